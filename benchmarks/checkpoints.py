"""Training wall time with checkpoints uploaded every epoch (``checkpoints="wandb"``) vs none, same training.

Pairs are interleaved (off, on, off, on, ...) in one process against the one local server of the benchmark
run; the ratio is of the medians. The time is the whole ``h.train(...)``: the epochs, the copies of
``last.pt`` handed to the uploader, and the bounded wait for the last upload at the end of training.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from wandb_ddp_bridge import wandb_session

from .training import tiny_training_args

__all__ = ["bench_checkpoints"]

EPOCHS = 3


def bench_checkpoints(reps: int, data_yaml: Path) -> list[tuple[str, str, str, str]]:
    from ultralytics import YOLO

    def training(checkpoints: str | None) -> float:
        with wandb_session(project="bench-checkpoints", checkpoints=checkpoints) as s:
            model = YOLO("yolov8n.yaml")
            with s.handoff(model) as h:
                start = time.perf_counter()
                h.train(**tiny_training_args(data_yaml, epochs=EPOCHS))
                return time.perf_counter() - start

    off: list[float] = []
    on: list[float] = []
    for _ in range(reps):
        off.append(training(None))
        on.append(training("wandb"))
    ratio = statistics.median(on) / statistics.median(off)
    return [
        (
            f"training wall time, checkpoints='wandb' every epoch ({EPOCHS} epochs)",
            f"{statistics.median(on):.2f} s",
            f"checkpoints off: {statistics.median(off):.2f} s (same training)",
            f"{ratio:.2f}x (goal <= 1.05)",
        )
    ]
