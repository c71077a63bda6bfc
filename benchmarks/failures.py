"""How long the failure paths take against their bounds (measured here; the tests assert behaviour only)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.testing import LocalWandbServer

from .common import Row

__all__ = ["bench_failure_bounds"]


def bench_failure_bounds() -> list[Row]:
    """(g) How long the failure paths take against their bounds (the tests assert behaviour, never time):
    server start, unreachable backend at start and at resume, the SIGTERM grace period, finish in an outage."""
    import signal
    import socket

    from wandb_ddp_bridge import BackendError, Terminated

    def dead_url() -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def seconds(fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        with contextlib.suppress(BackendError, Terminated):
            fn()
        return time.perf_counter() - start

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as data:
        start = time.perf_counter()
        server = LocalWandbServer(data_dir=Path(data) / "start").start()
        started = time.perf_counter() - start
        server.stop()
    rows.append(("local server start", f"{started * 1000:.0f} ms", "goal < 500 ms", f"{started / 0.5:.2f}x of goal"))

    def at_start() -> None:
        wandb_session(project="bench-fail", base_url=dead_url(), api_key="x" * 40, init_timeout=3).__enter__()

    took = seconds(at_start)
    rows.append(
        (
            "backend unreachable at start (init_timeout=3)",
            f"{took:.1f} s",
            "BackendError naming the URL",
            f"{took / 3:.2f}x init_timeout",
        )
    )
    with tempfile.TemporaryDirectory() as data, LocalWandbServer(data_dir=data) as server:
        settings = {"base_url": server.base_url, "api_key": server.api_key, "dir": data}

        def at_resume() -> None:
            with wandb_session(project="bench-fail", init_timeout=2, resume_attempts=2, **settings) as s, s.handoff():
                server.faults.outage(120)

        took = seconds(at_resume)
        server.faults.clear()
        bound = 2 * 2 + 1  # attempts x init_timeout + the backoff between them
        rows.append(
            (
                "backend unreachable at resume (2 attempts x 2 s)",
                f"{took:.1f} s",
                "BackendError after the last attempt",
                f"{took / bound:.2f}x of attempts x timeout + backoff ({bound} s)",
            )
        )

        def sigterm_in_outage() -> None:
            with (
                wandb_session(
                    project="bench-fail", init_timeout=60, resume_grace_seconds=3, fast_path="never", **settings
                ) as s,
                s.handoff(),
            ):
                server.faults.outage(120)
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)

        took = seconds(sigterm_in_outage)
        server.faults.clear()
        rows.append(
            (
                "SIGTERM, backend down for the resume (grace 3 s, init_timeout 60 s)",
                f"{took:.1f} s",
                "Terminated; offline copy + `wandb sync` command",
                f"{took / 3:.2f}x grace (unbounded: 180 s)",
            )
        )
        # in a fresh process: wandb reads its retry budget from the environment once per process
        budget = {
            "WANDB__FILE_STREAM_RETRY_MAX": "2",
            "WANDB__FILE_STREAM_RETRY_WAIT_MIN_SECONDS": "1",
            "WANDB__FILE_STREAM_RETRY_WAIT_MAX_SECONDS": "1",
            "WANDB__GRAPHQL_RETRY_MAX": "2",
            "WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS": "1",
            "WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS": "1",
            "WANDB__FILE_TRANSFER_RETRY_MAX": "2",
            "WANDB_BASE_URL": server.base_url,
            "WANDB_API_KEY": server.api_key,
            "WANDB_DIR": data,
        }
        code = (
            "import sys\nfrom wandb_ddp_bridge import wandb_session\n"
            "with wandb_session(project='bench-fail') as s:\n"
            "    s.summary['x'] = 1\n    print('READY', flush=True)\n    sys.stdin.readline()\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"} | budget
        child = subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdin is not None
        child.stdout.readline()
        server.faults.outage(120)
        start = time.perf_counter()
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=600)
        took = time.perf_counter() - start
        server.faults.clear()
        rows.append(
            (
                "finish during a 120 s outage (client retry budget 2)",
                f"{took:.1f} s",
                "returns once the client's own budget is spent",
                f"{took / 60:.2f}x of 60 s",
            )
        )
    return rows
