"""Fault-injecting trainer for the DDP reliability tests (tests only), on top of the Ultralytics DDP rig.

Importable by module name (``ddp_fault_rig``) from this directory, like ``ul_rig``: Ultralytics' DDP workers
rebuild the trainer class by reference. ``DDP_FAULT_EXIT="<rank>:<epoch>:<code>"`` makes that global rank
``os._exit(code)`` (no cleanup at all, like a segfault or an OOM kill) at the start of that 1-based epoch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

UL_TESTS = Path(__file__).resolve().parents[1] / "ultralytics"
if str(UL_TESTS) not in sys.path:
    sys.path.insert(0, str(UL_TESTS))

from ul_rig import CPUDDPDetectionTrainer  # noqa: E402

FAULT_ENV = "DDP_FAULT_EXIT"


class FaultyCPUDDPDetectionTrainer(CPUDDPDetectionTrainer):  # type: ignore[misc]
    """The rig's CPU DDP trainer; one rank can be made to die abruptly at the start of an epoch."""

    def run_callbacks(self, event: str) -> None:
        if event == "on_train_epoch_start" and os.environ.get(FAULT_ENV):
            rank, epoch, code = (int(part) for part in os.environ[FAULT_ENV].split(":"))
            if int(os.environ.get("RANK", "-1")) == rank and int(self.epoch) + 1 == epoch:
                sys.stderr.write(f"ddp_fault_rig: rank {rank} exits with code {code} at epoch {epoch}\n")
                sys.stderr.flush()
                os._exit(code)
        super().run_callbacks(event)

