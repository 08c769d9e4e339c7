"""Fast waiting around the watcher: the webhook receiver (`--listen`), the congestion window
that 429s shrink, the default parallelism, and the ledger's writes off the event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.client import SieveClient
from runner.concurrency import Concurrency, default_parallelism
from runner.execute.ledger import Ledger, LedgerWriter
from runner.execute.receiver import WebhookReceiver, parse_listen
from runner.execute.window import CongestionWindow
from runner.manifest.model import DEFAULT_MAX_PARALLEL
from tests.support.faultproxy import FaultProxy, Respond

CHAIN = """
version = 1
[jobs.a]
function = "exec/nap"
inputs = { seconds = 0.1, value = "a" }
[jobs.b]
function = "exec/nap"
inputs = { seconds = 0.1, value = "${{ jobs.a.outputs[0] }}-b" }
[jobs.wide]
function = "exec/nap"
matrix = { i = [1, 2, 3, 4, 5, 6] }
inputs = { seconds = 0.05, value = "${{ matrix.i }}" }
"""


# -- --listen ----------------------------------------------------------------------------------


def test_listen_hears_webhooks_and_confirms_them_from_the_list(run_text, exec_server) -> None:
    run = run_text(CHAIN, listen="127.0.0.1:0")
    assert run.summary.ok
    assert run.outcome("b").outputs == ["a-b"]
    notice = next(e for e in run.events if e.kind == "notice" and e.key == "listen")
    assert notice.message.startswith("receiving job.complete webhooks at http://127.0.0.1:")
    assert notice.message.endswith("/hooks/<token>")  # the secret is never printed
    backend = exec_server.backend
    # every push registered the receiver, every job's end was delivered there
    assert backend.webhooks.stats.delivered >= 8
    # the outputs came from the list, not a GET per job (nor a long poll: webhooks tell)
    assert backend.stats.requests("GET /jobs/{job_id}") == 0
    assert backend.stats.requests("GET /jobs/{job_id}/await") == 0
    assert backend.stats.requests("GET /jobs") >= 1


def test_a_lost_webhook_delays_a_job_but_never_loses_it(run_text, exec_server) -> None:
    # The receiver's public URL points nowhere: no webhook ever arrives.
    run = run_text(
        CHAIN, listen="127.0.0.1:0", public_url="http://127.0.0.1:9/nowhere", keep_going=True
    )
    assert run.summary.ok
    assert run.outcome("b").outputs == ["a-b"]


def test_public_url_needs_listen(tmp_path: Path) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(CHAIN)
    result = CliRunner().invoke(
        cli, ["run", str(manifest), "--local", "--public-url", "http://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert "--public-url needs --listen" in result.output


@pytest.mark.parametrize("text", ["nohost", "host:port", ":80", "127.0.0.1:70000"])
def test_listen_needs_host_and_port(text: str) -> None:
    with pytest.raises(Exception, match="expected HOST:PORT"):
        parse_listen(text)


def test_receiver_takes_only_job_webhooks_on_its_secret_path() -> None:
    hints: list[str] = []

    async def scenario() -> list[int]:
        receiver = WebhookReceiver("127.0.0.1", 0, hints.append)
        await receiver.start()
        base = receiver.url.rsplit("/", 1)[0]
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                good = {"type": "job.complete", "body": {"job_id": "j-1", "status": "finished"}}
                answers = [
                    await client.post(receiver.url, json=good),
                    await client.post(f"{base}/wrong-token", json=good),
                    await client.post(receiver.url, content=b"not json"),
                    await client.post(receiver.url, json={"type": "job.complete", "body": {}}),
                    await client.post(receiver.url, content=b"x" * (5 * 1024 * 1024)),
                    await client.get(receiver.url),
                ]
        finally:
            await receiver.aclose()
        return [answer.status_code for answer in answers]

    assert asyncio.run(scenario()) == [200, 404, 400, 400, 413, 405]
    assert hints == ["j-1"]


# -- parallelism ---------------------------------------------------------------------------------


def test_the_default_follows_the_service_limit_and_is_high_without_one() -> None:
    assert default_parallelism(None, None) == DEFAULT_MAX_PARALLEL == 1000
    assert default_parallelism(None, Concurrency(max_concurrency=40)) == 40
    assert default_parallelism(None, Concurrency(max_concurrency=5000)) == 1000
    assert default_parallelism(7, Concurrency(max_concurrency=40)) == 7


def test_the_window_halves_on_429_and_grows_back_by_one_per_window() -> None:
    now = [0.0]
    window = CongestionWindow(8, cooldown=1.0, clock=lambda: now[0])
    window.observe("POST", "/v2/push", 429)
    assert window.allowed == 4
    window.observe("POST", "/v2/push", 429)  # the same burst: one signal
    assert window.allowed == 4
    window.observe("GET", "/v2/jobs", 429)  # a list's 429 is about requests, not jobs
    now[0] = 5.0
    window.observe("POST", "/v2/push", 429)
    assert window.allowed == 2
    window.observe("POST", "/v2/push", 200)
    window.observe("POST", "/v2/push", 200)
    assert window.allowed == 2  # 2 + 1/2 + 1/2.5 = 2.9
    window.observe("POST", "/v2/push", 200)
    assert window.allowed == 3  # one more slot after about a window's worth of pushes
    for _ in range(100):
        window.accepted()
    assert window.allowed == 8  # never above the ceiling
    for _ in range(10):
        now[0] += 2
        window.congested()
    assert window.allowed == 1  # never below one


def test_the_window_holds_pushes_back_while_it_is_full() -> None:
    async def scenario() -> tuple[int, int]:
        window = CongestionWindow(4)
        peak = 0

        async def job() -> None:
            nonlocal peak
            async with window:
                peak = max(peak, window.in_use)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(job() for _ in range(6)))
        window.congested()  # 2 allowed from now on
        peak = 0
        await asyncio.gather(*(job() for _ in range(6)))
        return peak, window.in_use

    peak, in_use = asyncio.run(scenario())
    assert peak == 2
    assert in_use == 0


def test_429s_on_pushes_shrink_a_runs_window(exec_server) -> None:
    async def scenario() -> tuple[int, int]:
        with FaultProxy(exec_server.url) as proxy:
            proxy.add_fault(Respond(429, {"detail": "slow down"}), method="POST", times=2)
            async with SieveClient(
                proxy.url, exec_server.api_key, jitter=lambda delay: 0.01
            ) as client:
                window = CongestionWindow(16)
                client.add_response_listener(window.observe)
                await client.push("exec/nap", {"seconds": 0, "value": 1})
                return window.allowed, window.cuts

    allowed, cuts = asyncio.run(scenario())
    assert cuts == 1
    assert allowed == 8  # halved once, then one accepted push: 8 + 1/8


# -- the ledger's writes -------------------------------------------------------------------------


def test_ledger_writes_run_on_their_own_thread_in_order(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    writer = LedgerWriter(path)
    try:
        assert writer.run(lambda ledger: threading.get_ident()) != threading.get_ident()
        writer.run(Ledger.start_run, "r", "m.toml", "0" * 64, {})

        async def scenario() -> None:
            await writer.call(Ledger.intend, "r", "k", "k", "me/f", "ck", 1)
            # the intent is on disk once the call returned: another connection sees it
            reader = Ledger(path)
            row = reader.job("r", "k")
            reader.close()
            assert row is not None
            assert row.status == "pending"
            writer.submit(Ledger.pushed, "r", "k", "job-1", 1)
            writer.submit(Ledger.ended, "r", "k", "finished", outputs=[1])

        asyncio.run(scenario())
        writer.flush()
    finally:
        writer.close()
    reader = Ledger(path)
    row = reader.job("r", "k")
    reader.close()
    assert row is not None
    assert (row.status, row.job_id, row.outputs) == ("finished", "job-1", [1])


def test_a_durable_run_records_every_job_after_the_writer_drained(run_text, tmp_path) -> None:
    run = run_text(CHAIN)
    assert run.summary.ok
    ledger = Ledger(tmp_path / ".sievefile" / "state.db")
    rows = ledger.jobs(run.summary.run_id or "")
    ledger.close()
    assert len(rows) == 8
    assert {row.status for row in rows.values()} == {"finished"}
    assert all(row.job_id for row in rows.values())
