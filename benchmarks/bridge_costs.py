"""What the bridge costs a job next to W&B's own ways: the handoff, the whole job, the callbacks during training,
and the W&B time of a training against Ultralytics' native callback."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wandb_ddp_bridge import wandb_session

from .common import Row, interleaved, median_ms
from .training import tiny_training_args

__all__ = ["bench_callbacks", "bench_handoff", "bench_training_logging", "bench_whole_job"]


def bench_handoff(reps: int) -> list[Row]:
    """(a) `with s.handoff(): pass` vs the raw SDK floor (finish + init(resume="must"))."""
    import wandb

    with wandb_session(project="bench-handoff") as s:

        def bridge_handoff() -> float:
            start = time.perf_counter()
            with s.handoff():
                pass
            return time.perf_counter() - start

        def raw_sdk() -> float:
            run = wandb.run
            assert run is not None
            start = time.perf_counter()
            run.finish()
            wandb.init(id=run.id, project=run.project, entity=run.entity, resume="must")
            elapsed = time.perf_counter() - start
            s._run = wandb.run  # keep the session pointing at the live run
            return elapsed

        bridge, raw = interleaved(reps, bridge_handoff, raw_sdk)
    ratio = median_ms(bridge) / median_ms(raw)
    return [
        (
            "handoff enter+exit (full path)",
            f"{median_ms(bridge):.0f} ms",
            f"raw finish+resume {median_ms(raw):.0f} ms",
            f"{ratio:.2f}x (goal <= 1.05)",
        )
    ]


class WandbTimer:
    """Time spent inside wandb.init / Run.finish / Run.log, summed (the job's W&B overhead)."""

    def __init__(self) -> None:
        self.total = 0.0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        import wandb
        from wandb.sdk.wandb_run import Run

        originals = (wandb.init, Run.finish, Run.log)

        def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.total += time.perf_counter() - start

            return wrapper

        wandb.init, Run.finish, Run.log = timed(originals[0]), timed(originals[1]), timed(originals[2])
        try:
            yield
        finally:
            wandb.init, Run.finish, Run.log = originals


def bench_whole_job(reps: int, data_yaml: Path) -> list[Row]:
    """(b) W&B time of a whole single-process job: the seed's hand-written sequence vs the bridge."""
    import wandb
    from ultralytics import YOLO

    def seed_job() -> float:
        timer = WandbTimer()
        with timer.installed():
            run = wandb.init(project="bench-job", job_type="training")
            run.config.update({"lr": 0.01})
            run_id = run.id
            run.finish()
            os.environ.update(WANDB_RUN_ID=run_id, WANDB_PROJECT="bench-job", WANDB_RESUME="allow")
            YOLO("yolov8n.yaml").train(**tiny_training_args(data_yaml, epochs=1, val=False))
            run = wandb.init(id=run_id, project="bench-job", resume="must")
            run.log({"final": 1})
            run.finish()
            for name in ("WANDB_RUN_ID", "WANDB_PROJECT", "WANDB_RESUME"):
                os.environ.pop(name, None)
        return timer.total

    def bridge_job(fast_path: str) -> Callable[[], float]:
        def job() -> float:
            timer = WandbTimer()
            with timer.installed(), wandb_session(project="bench-job", fast_path=fast_path) as s:
                s.summary["lr"] = 0.01
                model = YOLO("yolov8n.yaml")
                with s.handoff(model) as h:
                    h.train(**tiny_training_args(data_yaml, epochs=1, val=False))
                s.log({"final": 1})
            return timer.total

        return job

    seed, fast = interleaved(reps, seed_job, bridge_job("auto"))
    _, full = interleaved(reps, lambda: 0.0, bridge_job("never"))
    return [
        (
            "whole job W&B time: seed recipe",
            f"{median_ms(seed):.0f} ms",
            "init, finish, resume, finish; logs nothing from training",
            "1.00x",
        ),
        (
            "whole job W&B time: bridge, full path",
            f"{median_ms(full):.0f} ms",
            "finish + resume around training",
            f"{median_ms(full) / median_ms(seed):.2f}x of seed",
        ),
        (
            "whole job W&B time: bridge, fast path",
            f"{median_ms(fast):.0f} ms",
            "run kept open in-process",
            f"{median_ms(seed) / median_ms(fast):.2f}x less than seed (goal >= 2x)",
        ),
    ]


def bench_callbacks(data_yaml: Path) -> list[Row]:
    """(d) The bridge's cost inside the training loop: per-batch callbacks (must be 0), per-epoch cost."""
    from ultralytics import YOLO

    from wandb_ddp_bridge.integrations.ultralytics import callbacks as bridge_callbacks

    spent: dict[str, list[float]] = {}

    def timed(event: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(trainer: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(trainer)
            finally:
                spent.setdefault(event, []).append(time.perf_counter() - start)

        return wrapper

    original_table = dict(bridge_callbacks._TABLE)
    bridge_callbacks._TABLE.update({event: (timed(event, fn), pos) for event, (fn, pos) in original_table.items()})
    try:
        with wandb_session(project="bench-callbacks") as s:
            model = YOLO("yolov8n.yaml")
            with s.handoff(model) as h:
                h.train(**tiny_training_args(data_yaml))
            callbacks = model.trainer.callbacks if model.trainer is not None else {}
            # the floor: one wandb run.log of a row the size of an epoch row, in the same run
            row = {f"metric/{i}": float(i) for i in range(16)}
            floor: list[float] = []
            for _ in range(20):
                start = time.perf_counter()
                s.log(row)
                floor.append(time.perf_counter() - start)
    finally:
        bridge_callbacks._TABLE.update(original_table)
    per_batch = sum(
        1
        for event, fns in callbacks.items()
        if "batch" in event
        for fn in fns
        if isinstance(fn, bridge_callbacks.RankZeroCallback)
    )
    epoch_events = [e for e in spent if "epoch" in e]
    per_epoch = [sum(spent[e][i] for e in epoch_events) for i in range(min(len(spent[e]) for e in epoch_events))]
    return [
        ("bridge callbacks per batch", str(per_batch), "registered on *_batch_* events", "goal 0"),
        (
            "bridge callbacks per epoch",
            f"{median_ms(per_epoch):.2f} ms",
            f"one wandb run.log of a 16-key row: {median_ms(floor):.2f} ms ({len(per_epoch)} epochs)",
            "goal < 1 ms",
        ),
    ]


def bench_training_logging(reps: int, data_yaml: Path) -> list[Row]:
    """(g) W&B time inside the training, side by side on the same training (plots on, 3 epochs): the bridge's
    callbacks with Ultralytics' W&B setting off vs Ultralytics' own W&B callback (setting on) logging into the
    same kind of handed-off run. Toggling the setting per training needs a release that reads it when the
    trainer is built (`native_init_at_pretrain_end`, 8.4.177+)."""
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from wandb_ddp_bridge.integrations.ultralytics import callbacks as bridge_callbacks
    from wandb_ddp_bridge.integrations.ultralytics import containment, releases

    if not releases.holds("native_init_at_pretrain_end"):
        return [("training W&B time: bridge vs native callback", "skipped", "needs Ultralytics 8.4.177+", "")]
    timed_classes = (bridge_callbacks.RankZeroCallback, containment.ContainedNative)
    originals = {cls: cls.__call__ for cls in timed_classes}
    spent = {cls: 0.0 for cls in timed_classes}

    def timed(cls: type) -> Callable[..., Any]:
        def call(self: Any, trainer: Any) -> Any:
            start = time.perf_counter()
            try:
                return originals[cls](self, trainer)
            finally:
                spent[cls] += time.perf_counter() - start

        return call

    def training(native: bool) -> Callable[[], float]:
        def job() -> float:
            SETTINGS.update({"wandb": native})
            counted = containment.ContainedNative if native else bridge_callbacks.RankZeroCallback
            spent[counted] = 0.0
            with wandb_session(project="bench-training-logging") as s:
                model = YOLO("yolov8n.yaml")
                with s.handoff(model) as h:
                    h.train(**tiny_training_args(data_yaml, plots=True))
            return spent[counted]

        return job

    for cls in timed_classes:
        cls.__call__ = timed(cls)  # type: ignore[method-assign]
    try:
        bridge, native = interleaved(reps, training(False), training(True))
    finally:
        for cls, call in originals.items():
            cls.__call__ = call  # type: ignore[method-assign]
        SETTINGS.update({"wandb": False})
    ratio = median_ms(bridge) / median_ms(native)
    return [
        (
            "training W&B time (3 epochs, plots): bridge's callbacks, setting off",
            f"{median_ms(bridge):.0f} ms",
            f"Ultralytics' own W&B callback, setting on: {median_ms(native):.0f} ms (same training, same panels)",
            f"{ratio:.2f}x (goal <= 1.00)",
        )
    ]
