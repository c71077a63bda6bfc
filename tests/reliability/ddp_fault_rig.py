"""Fault-injecting pieces for the DDP reliability tests (tests only), on top of the Ultralytics DDP rig.

Importable by module name (``ddp_fault_rig``) from this directory, like ``ul_rig``: Ultralytics' DDP workers
rebuild the trainer class and the callbacks by reference.

* ``DDP_FAULT_EXIT="<rank>:<epoch>:<code>[:mid]"`` makes that global rank ``os._exit(code)`` (no cleanup at
  all, like a segfault) at the start of that 1-based epoch, or (``:mid``) after its first training batch; a
  negative code sends that signal to itself instead (``-9``: SIGKILL, as the OOM killer does).
* ``DDP_FAULT_HOLD_AT=<epoch>`` makes every rank wait (in short sleeps a signal interrupts) at the start of
  that 1-based epoch, for up to ``HOLD_SECONDS``: a test that signals "mid-training" once the epoch before is
  on the server then never races a short training to its end.
* ``DDP_FAULT_EPOCH_LOG=<file>``: :func:`record_epoch` appends each epoch that global rank 0 finished, after
  the bridge logged its row (at ``on_fit_epoch_end``, where the bridge's callback runs first), so a test can
  compare the rows logged with the rows the server recorded. The trainer above calls it; in-process training
  adds it as a model callback.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

UL_TESTS = Path(__file__).resolve().parents[1] / "ultralytics"
if str(UL_TESTS) not in sys.path:
    sys.path.insert(0, str(UL_TESTS))

from ul_rig import CPUDDPDetectionTrainer  # noqa: E402

FAULT_ENV = "DDP_FAULT_EXIT"
EPOCH_LOG_ENV = "DDP_FAULT_EPOCH_LOG"
HOLD_ENV = "DDP_FAULT_HOLD_AT"
HOLD_SECONDS = 60.0


class FaultyCPUDDPDetectionTrainer(CPUDDPDetectionTrainer):  # type: ignore[misc]
    """The rig's CPU DDP trainer; one rank can be made to die abruptly at the start of an epoch, and rank 0
    notes the epochs it logged."""

    def run_callbacks(self, event: str) -> None:
        epoch = int(getattr(self, "epoch", 0)) + 1
        if os.environ.get(FAULT_ENV):
            _maybe_die(event, epoch, os.environ[FAULT_ENV])
        if event == "on_train_epoch_start" and os.environ.get(HOLD_ENV) == str(epoch):
            _hold()
        super().run_callbacks(event)
        if event == "on_fit_epoch_end":
            record_epoch(self)  # here, not as a model callback: releases before 8.4.140 do not ship those


def _maybe_die(event: str, epoch: int, fault: str) -> None:
    """Die as ``fault`` says, if this is the rank, the epoch and the moment (see the module docstring)."""
    rank, at_epoch, code, *where = fault.split(":")
    moment = "on_train_batch_end" if where == ["mid"] else "on_train_epoch_start"
    if event != moment or int(os.environ.get("RANK", "-1")) != int(rank) or epoch != int(at_epoch):
        return
    sys.stderr.write(f"ddp_fault_rig: rank {rank} dies ({code}) at epoch {epoch}, {event}\n")
    sys.stderr.flush()
    if int(code) < 0:
        os.kill(os.getpid(), -int(code))  # a real signal, e.g. SIGKILL (the OOM killer's)
    os._exit(int(code))


def _hold() -> None:
    """Wait at this epoch's start for the test's signal; go on after ``HOLD_SECONDS`` if none came."""
    sys.stderr.write(f"ddp_fault_rig: rank {os.environ.get('RANK')} holds for a signal\n")
    sys.stderr.flush()
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.1)


def record_epoch(trainer: Any) -> None:
    """``on_fit_epoch_end``: note the epoch global rank 0 (or the only process) just logged."""
    path = os.environ.get(EPOCH_LOG_ENV)
    if int(trainer.epoch) + 1 > int(trainer.epochs):
        return  # the final validation's call: releases from 8.4 make it at epochs + 1 (the best model's metrics)
    if path and int(os.environ.get("RANK", "-1")) in (-1, 0):
        with open(path, "a") as log:
            log.write(f"{int(trainer.epoch) + 1}\n")


def recorded_epochs(path: Path) -> list[int]:
    """The epochs :func:`record_epoch` wrote, in order, once each (older releases' final validation repeats the
    last)."""
    if not path.exists():
        return []
    return list(dict.fromkeys(int(line) for line in path.read_text().split()))
