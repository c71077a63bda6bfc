"""Training wall time with checkpoints uploaded every epoch (``checkpoints="wandb"``) vs none, same training.

Three trainings, each 3 epochs of ``yolov8n.yaml`` on CPU: the tiny one every benchmark uses (8 images at 64 px,
epochs of well under a second, where one 6 MB upload per epoch weighs most) and two with epochs of several
seconds (``LONGER`` synthetic datasets), closer to what the goal is about. The cost of a checkpoint is about
the same whatever the epoch's length (one 6 MB ``last.pt`` copied, hashed, uploaded), so each row also gives
it in seconds per checkpointed epoch, the figure that carries over to other epoch lengths. Every repetition
runs all six (each training off, then on), so drift on the machine hits each pair alike; the ratios are of
the medians. The time is the whole ``h.train(...)``: the epochs, the copies of ``last.pt`` handed to the
uploader, and the bounded wait for the last upload at the end of training.

The W&B server must be another process (``python -m benchmarks --only checkpoints`` spawns the local one), as a
real one is: in this process its request handling would take the GIL from the training for each upload.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from wandb_ddp_bridge import wandb_session

from .training import tiny_training_args

__all__ = ["LONGER", "bench_checkpoints"]

EPOCHS = 3
#: The longer trainings' synthetic datasets (images, and size in px, also their ``imgsz``): epochs of ~2 s and
#: ~6 s on an idle 2-core machine.
LONGER = ((96, 160), (288, 160))

Row = tuple[str, str, str, str]


def bench_checkpoints(reps: int, data_yaml: Path) -> list[Row]:
    """Rows for the tiny training on ``data_yaml`` and for the longer ones (their datasets made here)."""
    from wandb_ddp_bridge.tools.datasets import make_detection_dataset

    with tempfile.TemporaryDirectory() as tmp:
        trainings = {"8 images at 64 px": tiny_training_args(data_yaml, epochs=EPOCHS)}
        for images, size in LONGER:
            dataset = make_detection_dataset(Path(tmp) / f"{images}-{size}", images=images, size=size)
            trainings[f"{images} images at {size} px"] = tiny_training_args(
                dataset, epochs=EPOCHS, imgsz=size, batch=16
            )
        times: dict[tuple[str, bool], list[float]] = {(name, on): [] for name in trainings for on in (False, True)}
        epoch_seconds: dict[str, list[float]] = {name: [] for name in trainings}
        for _ in range(reps):
            for name, args in trainings.items():
                for on in (False, True):
                    wall, epochs = _timed_training(args, "wandb" if on else None)
                    times[name, on].append(wall)
                    if not on:
                        epoch_seconds[name] += epochs
    return [_row(times, name, statistics.median(epoch_seconds[name])) for name in trainings]


def _timed_training(args: dict[str, Any], checkpoints: str | None) -> tuple[float, list[float]]:
    """Wall time of one ``h.train`` and the length of each epoch after the first (start to start)."""
    from ultralytics import YOLO

    model = YOLO("yolov8n.yaml")
    starts: list[float] = []

    def epoch_started(trainer: Any) -> None:
        starts.append(time.perf_counter())

    model.add_callback("on_train_epoch_start", epoch_started)
    with wandb_session(project="bench-checkpoints", checkpoints=checkpoints) as s, s.handoff(model) as h:
        start = time.perf_counter()
        h.train(**{**args, "project": tempfile.mkdtemp()})
        wall = time.perf_counter() - start
    return wall, [b - a for a, b in itertools.pairwise(starts)]


def _row(times: dict[tuple[str, bool], list[float]], name: str, epoch: float) -> Row:
    off, on = statistics.median(times[name, False]), statistics.median(times[name, True])
    per_epoch = (on - off) / EPOCHS
    return (
        f"training wall time, checkpoints='wandb' every epoch ({EPOCHS} epochs; {name}, epochs ~{epoch:.1f} s)",
        f"{on:.2f} s",
        f"checkpoints off: {off:.2f} s (same training, {len(times[name, True])} interleaved pairs); "
        f"{per_epoch:+.2f} s per checkpointed epoch",
        f"{on / off:.2f}x (goal <= 1.05{'' if on / off <= 1.05 else ': not met'})",
    )
