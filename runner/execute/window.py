"""How many jobs a run keeps in flight: a semaphore whose size follows the service's 429s.

`CongestionWindow(ceiling)` lets at most `allowed` holders in at once. It starts at `ceiling`
(the run's `max_parallel`). Like TCP's congestion window (additive increase, multiplicative
decrease): a push the service refuses with 429 halves the window (at most once per
`cooldown` seconds, so one burst of refusals is one signal), and every accepted push grows
it by `1 / window`, about one more slot per window's worth of accepted pushes, never above
`ceiling`. Jobs already in flight are never cancelled by a smaller window: new pushes wait
until enough of them have ended.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType


class CongestionWindow:
    """An async context manager: `async with window: ...` holds one slot."""

    def __init__(
        self, ceiling: int, *, cooldown: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ceiling = max(1, ceiling)
        self.size = float(self.ceiling)
        self.in_use = 0
        self.cuts = 0
        self.cooldown = cooldown
        self._clock = clock
        self._last_cut = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def allowed(self) -> int:
        """Holders let in at once now."""
        return max(1, int(self.size))

    async def acquire(self) -> None:
        while self.in_use >= self.allowed:
            future = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            try:
                await future
            except asyncio.CancelledError:
                self._wake()  # a slot handed to us must not be lost with us
                raise
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def congested(self) -> None:
        """The service refused a push with 429: halve the window."""
        now = self._clock()
        if now - self._last_cut < self.cooldown:
            return
        self._last_cut = now
        self.size = max(1.0, self.size / 2)
        self.cuts += 1

    def accepted(self) -> None:
        """The service accepted a push: grow the window towards its ceiling."""
        if self.size < self.ceiling:
            before = self.allowed
            self.size = min(float(self.ceiling), self.size + 1 / self.size)
            if self.allowed > before:
                self._wake()

    def observe(self, method: str, path: str, status: int) -> None:
        """A `SieveClient` response listener: pushes' answers steer the window."""
        if method != "POST" or not path.endswith("/push"):
            return
        if status == 429:
            self.congested()
        elif status < 400:
            self.accepted()

    def _wake(self) -> None:
        free = self.allowed - self.in_use
        while free > 0 and self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                free -= 1

    async def __aenter__(self) -> CongestionWindow:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
