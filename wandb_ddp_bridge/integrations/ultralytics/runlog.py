"""What the run receives from a training when Ultralytics' own W&B callback is off: the bridge's logger.

What the native callback of every release logs, built from trainer state (docs/what-the-run-receives.md):

- one history row per epoch: training losses and learning rates (``on_train_epoch_end``) merged with the
  validation metrics (``on_fit_epoch_end``), plotted against an ``epoch`` step metric; the first row also
  carries the model info, and every row the plots Ultralytics registered since the previous one;
- at train end one row with the plots of the final validation and ``results``, and the ``curves/*`` tables;
  ``best.pt`` as a ``model`` artifact; the final validation of ``best.pt`` in the summary (``best/*``);
- the trainer's arguments under ``config["ultralytics"]``.

Runs on global rank 0 only (the callbacks make sure of it). Each part is contained (:mod:`.containment`):
a failing image or table costs that panel, never the epoch's scalars, and never the training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import _log
from ...artifacts.redact import plain
from . import panels
from .containment import contained

__all__ = ["EPOCH_METRICS", "LOGGER_NAME", "EpochLogger"]

#: Per-epoch metric families, plotted against ``epoch`` (what the native callback does where the release has
#: the `native_epoch_step_metric` fact).
EPOCH_METRICS = ("train/*", "lr/*", "metrics/*", "val/*")
#: How warnings and ``bridge/logging_errors`` name this logger.
LOGGER_NAME = "the bridge's Ultralytics logger"


@dataclass
class EpochLogger:
    """Logs one training into ``run``; one instance per trainer."""

    run: Any
    pending: dict[str, float] | None = None
    logged_epochs: list[int] = field(default_factory=list)
    images: panels.PlotImages = field(default_factory=panels.PlotImages)
    #: the last epoch an earlier attempt of a continued run logged (0: none); redone epochs are skipped
    logged_before: int = 0

    def start(self, trainer: Any) -> None:
        """What the native callback would record at the start, namespaced so it never overrides the user's
        config keys; ``epoch`` as the step metric of every per-epoch family."""
        self.run.config.update({"ultralytics": plain(vars(trainer.args))}, allow_val_change=True)
        summary: Any = self.run.summary
        # Only a training resumed from a checkpoint can redo epochs an earlier attempt logged.
        resumed_training = int(getattr(trainer, "start_epoch", 0) or 0) > 0
        earlier = summary.get("epoch") if resumed_training else None
        self.logged_before = int(earlier) if isinstance(earlier, (int, float)) else 0
        self.run.define_metric("epoch")
        for pattern in EPOCH_METRICS:
            self.run.define_metric(pattern, step_metric="epoch")

    def train_epoch_end(self, trainer: Any) -> None:
        if trainer.tloss is not None:
            losses = trainer.label_loss_items(trainer.tloss, prefix="train")
            self.pending = _floats({**losses, **getattr(trainer, "lr", {})})

    def fit_epoch_end(self, trainer: Any) -> None:
        metrics = _floats(trainer.metrics or {})
        if self.pending is None:
            # No training epoch since the last row: this is the final validation of best.pt.
            self.run.summary.update({f"best/{key}": value for key, value in metrics.items()})
            return
        epoch = int(trainer.epoch) + 1
        row: dict[str, Any] = {**self.pending, **metrics, "epoch": epoch}
        self.pending = None
        if epoch <= self.logged_before:
            # History is append-only: a row for an epoch an earlier attempt already logged (redone after its
            # checkpoint) would put the epoch axis out of order, so the earlier row stands and this one is skipped.
            _log.warn_once(f"epoch {epoch} was logged by an earlier attempt of this run; its redone row is skipped")
            return
        if not self.logged_epochs:
            with contained(f"{LOGGER_NAME} (model info)", "on_fit_epoch_end"):
                row.update(panels.model_info(trainer))
        with contained(f"{LOGGER_NAME} (plots)", "on_fit_epoch_end"):
            row.update(self.images.new(trainer))
        # One row per epoch, no explicit step: the step metric is `epoch`, the history step just advances.
        self.run.log(row)
        self.logged_epochs.append(epoch)

    def train_end(self, trainer: Any) -> None:
        row: dict[str, Any] = {}
        with contained(f"{LOGGER_NAME} (plots)", "on_train_end"):
            row.update(self.images.new(trainer))
        with contained(f"{LOGGER_NAME} (curve tables)", "on_train_end"):
            row.update(panels.curve_tables(trainer))
        if row:
            self.run.log(row)
        with contained(f"{LOGGER_NAME} (model artifact)", "on_train_end"):
            self._log_best(trainer)

    def _log_best(self, trainer: Any) -> None:
        best = Path(trainer.best)
        if not getattr(trainer.args, "save", True) or not best.exists():
            return
        import wandb

        artifact = wandb.Artifact(
            name=f"run_{self.run.id}_model",
            type="model",
            metadata={"epochs": self.logged_epochs[-1] if self.logged_epochs else 0, "file": best.name},
        )
        artifact.add_file(str(best))
        self.run.log_artifact(artifact, aliases=["best", "latest"])


def _floats(values: Any) -> dict[str, float]:
    return {str(key): float(value) for key, value in dict(values).items()}
