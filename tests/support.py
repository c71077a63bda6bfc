"""Helpers the test folders share (tests/conftest.py puts this folder on ``sys.path``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

__all__ = [
    "child_process_count",
    "free_port",
    "local_torchrun_args",
    "open_run",
    "preempt_after_epoch",
    "read_init_probes",
    "wandb_env",
]


def wandb_env() -> dict[str, str]:
    """This process's ``WANDB_*`` variables, to compare before and after."""
    return {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}


def open_run() -> Any:
    """The process-global ``wandb.run`` (``None`` when no run is open)."""
    import wandb

    return wandb.run


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now (for torchrun's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_torchrun_args(nproc: int = 2) -> list[str]:
    """``torch.distributed.run`` arguments for ``nproc`` ranks on this machine, on a fresh rendezvous port."""
    return ["--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1", "--master_port", str(free_port())]


def child_process_count() -> int:
    """How many processes this one has as direct children (a leaked worker or service shows here)."""
    done = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True)
    return len(done.stdout.split())


def read_init_probes(folder: Path) -> list[dict[str, Any]]:
    """The ``wandb.init`` probes (``tests/ultralytics/probe``) in the order the calls were made, by the time
    each recorded: file names (``init-<pid>-<n>.json``) sort as strings, which is neither call order nor
    stable across runs (pid 651 sorts after pid 1595)."""
    records = [json.loads(path.read_text()) for path in folder.glob("init-*.json")]
    return sorted(records, key=lambda record: record["time_ns"])


def preempt_after_epoch(epoch: int) -> Any:
    """An Ultralytics ``on_fit_epoch_end`` callback that sends this process SIGTERM after ``epoch`` (1-based), as
    a scheduler does; the bridge's preemption watch turns it into a stop after the epoch's checkpoint."""

    def callback(trainer: Any) -> None:
        if trainer.epoch + 1 == epoch:
            os.kill(os.getpid(), signal.SIGTERM)

    return callback


def deleted_runs(server: Any) -> list[str]:
    """The ``entity/project/id`` of every run the server was asked to delete (``Run.delete()``), in order."""
    return [event.detail["run"] for event in server.events("delete_run")]
