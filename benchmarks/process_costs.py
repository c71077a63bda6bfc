"""What importing the library and running many sessions in one process cost: import time, and no growth
in threads, child processes, file descriptors or memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from wandb_ddp_bridge import wandb_session

from .common import Row, interleaved, median_ms

__all__ = ["bench_import", "bench_steady_state"]


def bench_import(reps: int) -> list[Row]:
    """(c) `import wandb_ddp_bridge` over a bare interpreter start; nothing heavy imported."""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare, imported = interleaved(max(reps, 5), lambda: run("pass"), lambda: run("import wandb_ddp_bridge"))
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, wandb_ddp_bridge; "
            "print(','.join(m for m in ('wandb','torch','ultralytics') if m in sys.modules) or 'none')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    extra = median_ms(imported) - median_ms(bare)
    return [("import wandb_ddp_bridge", f"+{extra:.0f} ms", f"heavy modules imported: {heavy}", "goal < 50 ms, none")]


def _process_state() -> tuple[int, int, int, float]:
    # the in-process server's request threads and accepted sockets are not the bridge's: leave them out
    fds = sum(1 for fd in os.listdir("/proc/self/fd") if not _is_socket(fd))
    children = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
    rss_kb = next(
        int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:")
    )
    threads = sum(1 for t in threading.enumerate() if "process_request" not in t.name)
    return threads, len(children), fds, rss_kb / 1024


def _is_socket(fd: str) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except OSError:
        return True


def bench_steady_state(sessions: int = 20) -> list[Row]:
    """(e) 20 sequential sessions in one process: threads, child processes, fds, RSS."""
    with wandb_session(project="bench-steady") as s:  # warm-up: wandb starts its service once
        s.log({"x": 1})
    before = _process_state()
    for i in range(sessions):
        with wandb_session(project="bench-steady") as s:
            s.summary["i"] = i
            with s.handoff():
                pass
            s.log({"x": i})
    after = _process_state()
    return [
        (
            f"{sessions} sessions in a row",
            f"threads {before[0]}→{after[0]}, children {before[1]}→{after[1]}",
            f"fds {before[2]}→{after[2]}, RSS +{after[3] - before[3]:.1f} MB",
            "goal: no growth, RSS < 5 MB",
        )
    ]
