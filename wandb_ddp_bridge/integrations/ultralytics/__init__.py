"""Ultralytics: training lands in the handed-off run, in one process or as DDP workers, on every release.

The integration the core drives (:data:`INTEGRATION`) and the names DDP workers and users import. One concern
per module:

- :mod:`.training`: ``h.train`` and a plain ``model.train`` inside a handoff; :class:`TrainOutcome`.
- :mod:`.tuning`: ``h.tune`` and a plain ``model.tune`` inside a handoff: every tuner iteration a run.
- :mod:`.trainers`: the bridged trainer classes and their importable names (``Bridged<Name>``).
- :mod:`.callbacks`: the bridge's callbacks, one table, the global-rank-0 check applied once.
- :mod:`.runlog`: what the run receives when Ultralytics' own W&B callback is off.
- :mod:`.launch`: DDP launch supervision, worker errors, signal forwarding; the "spawns workers" rule.
- :mod:`.releases`: every per-release fact, one table.

Importing this package imports neither ultralytics, wandb nor torch.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from .. import TrainingContext
from .callbacks import native_wandb_active
from .launch import DDPWorkerError
from .trainers import bridged_trainer, build_by_name
from .training import TrainOutcome, prepare_model, prepared, restore_model, train
from .tuning import TuneOutcome, tune

__all__ = [
    "INTEGRATION",
    "DDPWorkerError",
    "TrainOutcome",
    "TuneOutcome",
    "UltralyticsIntegration",
    "bridged_trainer",
    "native_wandb_active",
    "prepare_model",
    "restore_model",
    "train",
    "tune",
]


class UltralyticsIntegration:
    """The :class:`~wandb_ddp_bridge.integrations.Integration` for Ultralytics models (``YOLO(...)``, ...)."""

    name = "ultralytics"

    def matches(self, model: Any) -> bool:
        # Duck-typed, so no import of ultralytics: every Ultralytics Model has both.
        return hasattr(model, "task_map") and hasattr(model, "add_callback")

    def prepare(self, model: Any, ctx: TrainingContext) -> AbstractContextManager[None]:
        return prepared(model, ctx)

    def train(self, model: Any, ctx: TrainingContext, **train_kwargs: Any) -> Any:
        return train(model, ctx, **train_kwargs)

    def tune(self, model: Any, ctx: TrainingContext, **tune_kwargs: Any) -> Any:
        return tune(model, ctx, **tune_kwargs)


INTEGRATION = UltralyticsIntegration()


def __getattr__(name: str) -> Any:
    """``Bridged<Base>`` / ``Bridged_<escaped path>`` trainer classes, built on first access (PEP 562)."""
    cls = build_by_name(name)
    globals()[name] = cls  # later lookups (pickle, `from ... import`) skip this function
    return cls
