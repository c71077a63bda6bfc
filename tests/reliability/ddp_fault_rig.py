"""Fault-injecting pieces for the DDP reliability tests (tests only), on top of the Ultralytics DDP rig.

Importable by module name (``ddp_fault_rig``) from this directory, like ``ul_rig``: Ultralytics' DDP workers
rebuild the trainer class and the callbacks by reference.

* ``DDP_FAULT_EXIT="<rank>:<epoch>:<code>"`` makes that global rank ``os._exit(code)`` (no cleanup at all, like
  a segfault or an OOM kill) at the start of that 1-based epoch.
* ``DDP_FAULT_EPOCH_LOG=<file>``: :func:`record_epoch` appends each epoch that global rank 0 finished, after
  the bridge logged its row (at ``on_fit_epoch_end``, where the bridge's callback runs first), so a test can
  compare the rows logged with the rows the server recorded. The trainer above calls it; in-process training
  adds it as a model callback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

UL_TESTS = Path(__file__).resolve().parents[1] / "ultralytics"
if str(UL_TESTS) not in sys.path:
    sys.path.insert(0, str(UL_TESTS))

from ul_rig import CPUDDPDetectionTrainer  # noqa: E402

FAULT_ENV = "DDP_FAULT_EXIT"
EPOCH_LOG_ENV = "DDP_FAULT_EPOCH_LOG"


class FaultyCPUDDPDetectionTrainer(CPUDDPDetectionTrainer):  # type: ignore[misc]
    """The rig's CPU DDP trainer; one rank can be made to die abruptly at the start of an epoch, and rank 0
    notes the epochs it logged."""

    def run_callbacks(self, event: str) -> None:
        if event == "on_train_epoch_start" and os.environ.get(FAULT_ENV):
            rank, epoch, code = (int(part) for part in os.environ[FAULT_ENV].split(":"))
            if int(os.environ.get("RANK", "-1")) == rank and int(self.epoch) + 1 == epoch:
                sys.stderr.write(f"ddp_fault_rig: rank {rank} exits with code {code} at epoch {epoch}\n")
                sys.stderr.flush()
                os._exit(code)
        super().run_callbacks(event)
        if event == "on_fit_epoch_end":
            record_epoch(self)  # here, not as a model callback: releases before 8.4.140 do not ship those


def record_epoch(trainer: Any) -> None:
    """``on_fit_epoch_end``: note the epoch global rank 0 (or the only process) just logged."""
    path = os.environ.get(EPOCH_LOG_ENV)
    if path and int(os.environ.get("RANK", "-1")) in (-1, 0):
        with open(path, "a") as log:
            log.write(f"{int(trainer.epoch) + 1}\n")


def recorded_epochs(path: Path) -> list[int]:
    """The epochs :func:`record_epoch` wrote, in order, once each (the final validation repeats the last)."""
    if not path.exists():
        return []
    return list(dict.fromkeys(int(line) for line in path.read_text().split()))
