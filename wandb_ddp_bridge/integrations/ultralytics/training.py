"""Training entry points: ``h.train(...)`` and a plain ``model.train(...)`` (and ``model.tune(...)``, see
:mod:`.tuning`) inside a handoff.

Both train with a bridged trainer (see :mod:`.trainers`), on the config's devices unless ``device`` is given,
and record what training produced (:class:`TrainOutcome`) through the training context.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...attachment import detach
from ...errors import ConfigError, TrainingRefused
from .. import TrainingContext
from . import context
from .callbacks import end_preemption_watch
from .checkpoints import resume_source
from .launch import spawns_workers
from .resume import check_checkpoint_run
from .trainers import bridged_trainer
from .tuning import tune

__all__ = ["TrainOutcome", "prepare_model", "restore_model", "train"]

_ORIGINAL_TRAIN_ATTR = "_wandb_ddp_bridge_original_train"
_ORIGINAL_TUNE_ATTR = "_wandb_ddp_bridge_original_tune"


@dataclass(frozen=True)
class TrainOutcome:
    """What one ``h.train(...)`` produced: Ultralytics' return value and where the weights are."""

    results: Any
    save_dir: Path | None
    best: Path | None
    last: Path | None


def train(model: Any, ctx: TrainingContext, *, trainer: type | None = None, **train_kwargs: Any) -> Any:
    """``model.train(**train_kwargs)`` with a bridged trainer; records a :class:`TrainOutcome`, returns what
    Ultralytics returns. ``trainer`` may be your own trainer class (importable by module path when training
    spawns DDP workers)."""
    try:  # every refusal comes before training begins, so a new run that got nothing can be deleted again
        if "device" not in train_kwargs and ctx.devices is not None:
            train_kwargs["device"] = _device_argument(ctx.devices)
        train_kwargs = resume_source(model, train_kwargs)  # the run's checkpoint when no local one is as new
        check_checkpoint_run(model, train_kwargs)  # resuming another run's checkpoint is refused, both named
        base = trainer if trainer is not None else _task_trainer(model)
    except ConfigError as refused:
        raise TrainingRefused(str(refused)) from refused
    bridged = bridged_trainer(base, spawns_workers=spawns_workers(train_kwargs.get("device")))
    original: Callable[..., Any] = getattr(model, _ORIGINAL_TRAIN_ATTR, None) or model.train
    with context.using(ctx):
        try:
            results = original(trainer=bridged, **train_kwargs)
        except BaseException:
            end_preemption_watch(getattr(model, "trainer", None), raise_if_preempted=False)
            # Where `teardown_only_after_success` holds: close our attachment here, as failed.
            detach(exit_code=1)
            raise
    try:
        # preempted: training stopped early and saved; the attempt ends non-zero (Preempted) after the checkpoint
        end_preemption_watch(getattr(model, "trainer", None), raise_if_preempted=True)
    except BaseException:
        detach(exit_code=1)
        ctx.record_result(_outcome(model, results))
        raise
    detach(exit_code=0)  # no-op after the bridged teardown; closes it if a custom train() skipped teardown
    ctx.record_result(_outcome(model, results))
    return results


@contextmanager
def prepared(model: Any, ctx: TrainingContext) -> Iterator[None]:
    """While the handoff lasts, a plain ``model.train(...)`` trains exactly like ``h.train(...)``."""
    prepare_model(model, ctx)
    try:
        yield
    finally:
        restore_model(model)


def prepare_model(model: Any, ctx: TrainingContext) -> Any:
    """Route this model's ``train`` through the bridge with ``ctx``. Idempotent; returns the model."""
    if getattr(model, _ORIGINAL_TRAIN_ATTR, None) is not None:
        return model
    original = model.train

    @functools.wraps(original)
    def bridged_train(trainer: type | None = None, **kwargs: Any) -> Any:
        return train(model, ctx, trainer=trainer, **kwargs)

    # Instance attributes only: the class and every other model are untouched (see restore_model).
    object.__setattr__(model, _ORIGINAL_TRAIN_ATTR, original)
    object.__setattr__(model, "train", bridged_train)
    original_tune = getattr(model, "tune", None)
    if original_tune is not None:

        @functools.wraps(original_tune)
        def bridged_tune(use_ray: bool = False, **kwargs: Any) -> Any:
            if use_ray:  # Ray Tune runs its own trials: not bridged, said once
                raise ConfigError("model.tune(use_ray=True) inside a handoff is not bridged; tune outside it")
            return tune(model, ctx, **kwargs)

        object.__setattr__(model, _ORIGINAL_TUNE_ATTR, original_tune)
        object.__setattr__(model, "tune", bridged_tune)
    return model


def restore_model(model: Any) -> Any:
    """Undo :func:`prepare_model` (no-op if the model was not prepared); returns the model."""
    if getattr(model, _ORIGINAL_TRAIN_ATTR, None) is None:
        return model
    for name in ("train", _ORIGINAL_TRAIN_ATTR, "tune", _ORIGINAL_TUNE_ATTR):
        model.__dict__.pop(name, None)
    return model


def _task_trainer(model: Any) -> type:
    try:
        trainer: type = model.task_map[model.task]["trainer"]
    except (AttributeError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot find the trainer class of {type(model).__name__} "
            f"(task {getattr(model, 'task', None)!r}) in its task_map ({exc!r}); "
            "pass one explicitly: h.train(trainer=YourTrainer, ...)"
        ) from None
    return trainer


def _device_argument(devices: Any) -> Any:
    if isinstance(devices, (list, tuple)):
        return ",".join(str(d) for d in devices)
    return devices


def _outcome(model: Any, results: Any) -> TrainOutcome:
    trainer = getattr(model, "trainer", None)

    def path(name: str) -> Path | None:
        value = getattr(trainer, name, None)
        return Path(value) if value is not None else None

    return TrainOutcome(results=results, save_dir=path("save_dir"), best=path("best"), last=path("last"))
