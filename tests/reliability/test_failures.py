"""Failures, outages and leaks, proven against the local server's records (issue: fault tolerance)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support import child_process_count

from wandb_ddp_bridge import BackendError, PhaseError, wandb_session

CHILD_LOGS_ROWS = textwrap.dedent(
    """
    import sys, time
    import wandb_ddp_bridge as bridge
    run = bridge.attach()
    for epoch in range(int(sys.argv[1])):
        run.log({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
        time.sleep(float(sys.argv[2]))
    bridge.detach()
    """
)


def _child(rows: int, pause: float = 0.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD_LOGS_ROWS, str(rows), str(pause)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
    )


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_exception_in_handoff_ends_run_failed_with_reason(wandb_server: Any) -> None:
    before = {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}
    with pytest.raises(ZeroDivisionError, match="division by zero"), wandb_session(project="fail") as s, s.handoff():
        assert _child(2).returncode == 0
        1 / 0  # noqa: B018
    run = wandb_server.runs()[0]
    assert [x.exit_code for x in run.sessions] == [0, 0, 1]
    assert run.state == "failed"
    assert run.summary["bridge_failed"] is True
    assert run.summary["bridge_failure"] == "ZeroDivisionError: division by zero"
    assert [r["epoch"] for r in run.history if "epoch" in r] == [0, 1]
    assert {k: v for k, v in os.environ.items() if k.startswith("WANDB_")} == before


def test_swallowed_training_error_still_ends_the_run_failed(wandb_server: Any) -> None:
    with wandb_session(project="fail") as s:
        try:
            with s.handoff():
                raise RuntimeError("worker died")
        except RuntimeError:
            pass
        s.log({"after": 1})
    run = wandb_server.runs()[0]
    assert run.sessions[-1].exit_code == 1
    assert run.summary["bridge_failure"] == "RuntimeError: worker died"


def test_keyboard_interrupt_ends_the_run_with_130(wandb_server: Any) -> None:
    with pytest.raises(KeyboardInterrupt), wandb_session(project="ctrl-c") as s, s.handoff():
        raise KeyboardInterrupt
    assert wandb_server.runs()[0].sessions[-1].exit_code == 130


def test_unreachable_backend_at_start_fails_naming_the_url() -> None:
    # how fast: benchmarks (`python -m benchmarks`, failure bounds)
    url = _dead_url()
    with pytest.raises(BackendError, match=f"W&B backend at {url}"):
        wandb_session(project="p", base_url=url, api_key="x" * 40, init_timeout=3).__enter__()


def test_unreachable_backend_at_start_can_continue_offline(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = _dead_url()
    with wandb_session(
        project="p", base_url=url, api_key="x" * 40, init_timeout=3, dir=str(tmp_path), on_backend_error="offline"
    ) as s:
        assert s.config.mode == "offline"
        with s.handoff():
            pass
        s.log({"post": 1})
    assert "Continuing OFFLINE" in caplog.text and "wandb sync " in caplog.text and str(tmp_path) in caplog.text


def _fast_retries(monkeypatch: pytest.MonkeyPatch, **more: str) -> None:
    """The client's own retry waits, made short (wandb-core reads whole seconds)."""
    values = {"WANDB__FILE_STREAM_RETRY_WAIT_MIN_SECONDS": "1", "WANDB__FILE_STREAM_RETRY_WAIT_MAX_SECONDS": "1"}
    for name, value in {**values, **more}.items():
        monkeypatch.setenv(name, value)


def test_backend_errors_during_training_lose_no_row(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    wandb_server.faults.add("file_stream", status=500, times=2)
    wandb_server.faults.add("file_stream", status=429, times=2)
    _fast_retries(monkeypatch)
    with wandb_session(project="flaky") as s:
        with s.handoff():
            done = _child(12)
            assert done.returncode == 0, done.stderr
        s.log({"post": 1})
    run = wandb_server.runs()[0]
    assert [r["epoch"] for r in run.history if "epoch" in r] == list(range(12))
    assert any(r.status in (429, 500) for r in wandb_server.requests)


def _restart_once_rows_arrive(server: Any, down_for: float) -> tuple[threading.Thread, list[float]]:
    """Once the training child has opened its writer session on the server, stop the server for ``down_for``
    seconds (1.5 s later) and start it again; the returned list gets the times it went down and came back."""
    window: list[float] = []

    def restart() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(len(run.sessions) > 1 for run in server.runs()):
            time.sleep(0.05)
        time.sleep(1.5)  # into its logging (30 rows, one each 0.2 s)
        window.append(time.time())
        server.stop()
        time.sleep(down_for)
        server.start()
        window.append(time.time())

    thread = threading.Thread(target=restart, daemon=True)
    thread.start()
    return thread, window


def test_server_restart_mid_training_keeps_every_row(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _fast_retries(monkeypatch)
    with wandb_session(project="restart") as s:
        with s.handoff():
            restarter, window = _restart_once_rows_arrive(wandb_server, down_for=2.0)
            done = _child(30, pause=0.2)
            restarter.join()
            assert done.returncode == 0, done.stderr
        s.log({"post": 1})
    run = wandb_server.runs()[0]
    epochs = [r for r in run.history if "epoch" in r]
    assert [r["epoch"] for r in epochs] == list(range(30))
    assert run.state == "finished"
    # the outage overlapped the logging: rows were logged before it, during it and after it, and the
    # training child's stream reached the server on both sides of it (the server's own request times)
    down, up = window
    logged = [r["_timestamp"] for r in epochs]
    assert min(logged) < down and any(down <= t <= up for t in logged) and max(logged) > up, (logged, window)
    streamed = [r.time for r in wandb_server.requests if r.operation == "file_stream" and r.run_path == run.path]
    assert any(t < down for t in streamed) and any(t > up for t in streamed), (streamed, window)


def test_unreachable_backend_at_resume_falls_back_offline_and_says_how_to_sync(
    wandb_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with wandb_session(
        project="resume-down", init_timeout=3, resume_attempts=2, dir=str(tmp_path), on_backend_error="offline"
    ) as s:
        run_id = s.id
        s.log({"pre/metric": 1})
        with s.handoff():
            assert _child(2).returncode == 0
            wandb_server.stop()
        assert s.run is not None and s.run.id == run_id
        s.log({"post/metric": 1})
    [command] = re.findall(rf"wandb sync --id {run_id} .*", caplog.text)
    wandb_server.start()  # the backend is back: the command the warning gave uploads the offline copy
    synced = subprocess.run(
        [sys.executable, "-m", "wandb", *shlex.split(command)[1:]], capture_output=True, text=True, timeout=120
    )
    assert synced.returncode == 0, synced.stderr
    [run] = wandb_server.runs()
    assert run.id == run_id and run.created_count == 1, run.sessions
    rows = [r for r in run.history if not any(k.startswith("system") for k in r)]
    # every accepted write, once: PRE and training online, POST from the offline copy
    assert [k for r in rows for k in ("pre/metric", "epoch", "post/metric") if k in r] == [
        "pre/metric",
        "epoch",
        "epoch",
        "post/metric",
    ], rows
    assert run.summary["post/metric"] == 1


def test_unreachable_backend_at_resume_raises_after_its_attempts(
    wandb_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    session = wandb_session(project="resume-down", init_timeout=2, resume_attempts=2)
    with pytest.raises(BackendError, match="could not resume run"), session, session.handoff():
        wandb_server.stop()
    assert "resume attempt 1/2 failed" in caplog.text and "attempt 2/2" not in caplog.text
    assert session.phase.name == "FINISHED"


def test_backend_down_at_finish_returns_within_the_clients_retry_budget(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the client's own retry budget, made short: the bridge respects it and adds no retry of its own (how
    # long it takes: benchmarks, failure bounds)
    retry_max = 2
    _fast_retries(
        monkeypatch,
        WANDB__FILE_STREAM_RETRY_MAX=str(retry_max),
        WANDB__GRAPHQL_RETRY_MAX=str(retry_max),
        WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS="1",
        WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS="1",
        WANDB__FILE_TRANSFER_RETRY_MAX=str(retry_max),
    )
    before = {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}
    with wandb_session(project="finish-down") as s:
        s.summary["x"] = 1
        wandb_server.faults.outage(120)
    assert s.phase.name == "FINISHED" and {k: v for k, v in os.environ.items() if k.startswith("WANDB_")} == before
    # the bound, as the server saw it: each request the finish makes is tried at most 1 + retry_max times,
    # and the outage (120 s) outlasted them all: nothing kept retrying after the session returned
    refused = Counter(r.operation for r in wandb_server.requests if r.fault)
    assert refused and "file_stream" in refused, wandb_server.requests
    assert max(refused.values()) <= 1 + retry_max, refused
    ended = len(wandb_server.requests)
    time.sleep(1.5)  # longer than one retry wait: a retry still pending would land now
    assert len(wandb_server.requests) == ended, wandb_server.requests[ended:]


def test_user_wandb_calls_inside_a_phase_are_detected(wandb_server: Any) -> None:
    import wandb

    with wandb_session(project="meddling") as s:
        wandb.finish()
        with pytest.raises(PhaseError, match="closed or replaced outside the session"):
            s.log({"x": 1})
        s._owner._run = wandb.init(id=s.id, project="meddling", resume="must")  # repair, to finish cleanly
    with (
        wandb_session(project="meddling") as s,
        pytest.raises(PhaseError, match="opened inside the handoff"),
        s.handoff(),
    ):
        wandb.init(project="meddling")
    if wandb.run is not None:
        wandb.run.finish()


def test_api_key_never_reaches_the_backend_or_the_logs(
    wandb_server: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    key = wandb_server.api_key
    cfg = {"wandb": {"project": "secrets", "api_key": key}, "lr": 0.1, "nested": [{"token": "tok-123456"}]}
    with caplog.at_level("DEBUG"), wandb_session(cfg) as s:
        s.save_config(cfg)
        with s.handoff():
            assert _child(2).returncode == 0
        s.log({"done": 1})
    received = wandb_server.all_received_text()
    assert "lr" in received
    assert key not in received and "tok-123456" not in received
    assert key not in caplog.text
    out = capfd.readouterr()
    assert key not in out.out and key not in out.err


def _fds() -> int:
    """Open files of this process, without sockets: the in-process test server keeps one accepted
    keep-alive socket per client connection, which says nothing about the bridge."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def _client_threads() -> int:
    """Threads of this process that are not the in-process test server's request handlers."""
    return sum(1 for t in threading.enumerate() if "process_request" not in t.name)


def test_twenty_sessions_leak_nothing(wandb_server: Any) -> None:
    with wandb_session(project="leaks") as s:  # warm-up: wandb starts its service once per process
        s.log({"x": 0})
    env_before = {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}
    threads, fds, children = _client_threads(), _fds(), child_process_count()
    for i in range(20):
        with wandb_session(project="leaks") as s:
            with s.handoff():
                pass
            s.log({"x": i})
    print(
        f"20 sessions: threads {threads}->{_client_threads()}, files {fds}->{_fds()}, "
        f"children {children}->{child_process_count()}"
    )
    assert {k: v for k, v in os.environ.items() if k.startswith("WANDB_")} == env_before
    assert _client_threads() <= threads, [t.name for t in threading.enumerate()]
    assert _fds() <= fds
    assert child_process_count() <= children
    assert len(wandb_server.runs(project="leaks")) == 21
