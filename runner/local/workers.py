"""A fixed pool of worker threads taking job ids from one FIFO queue.

Threads, not processes: local functions are plain synchronous Python that mostly waits on
subprocesses (ffmpeg) or I/O, and they must see the job's cancel event.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("sievefile.local")

_STOP = object()


class WorkerPool:
    """`size` threads that call `run(job_id)` for each submitted id, in order."""

    def __init__(self, size: int, run: Callable[[str], None]) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.size = size
        self._run = run
        self._queue: queue.Queue[object] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.size):
            thread = threading.Thread(
                target=self._loop, name=f"sievefile-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def close(self, timeout: float) -> bool:
        """Stop taking jobs and wait up to `timeout` s for running ones; False if some hang.

        Ids still queued are dropped (their jobs stay `queued` in the store).
        """
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not _STOP:
            try:
                self._run(str(job_id))
            except Exception:
                # A job's own failure is recorded by the runner; this is the runner failing
                # (e.g. the store closed under a job that outlived shutdown).
                logger.exception("worker failed on job %s", job_id)
