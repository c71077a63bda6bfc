"""What the run receives from a training when Ultralytics' own W&B callback is off: the bridge's logger.

One row per epoch (training losses and learning rates from ``on_train_epoch_end`` merged with the validation
metrics of ``on_fit_epoch_end``) plotted against an ``epoch`` step metric, the trainer's arguments under
``config["ultralytics"]``, the final validation of ``best.pt`` in the summary (``best/*``), and ``best.pt`` as
a ``model`` artifact. Runs on global rank 0 only (the callbacks make sure of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...artifacts.redact import plain

__all__ = ["EPOCH_METRICS", "EpochLogger"]

#: Per-epoch metric families, plotted against ``epoch`` (what the native callback does where the release has
#: the `native_epoch_step_metric` fact).
EPOCH_METRICS = ("train/*", "lr/*", "metrics/*", "val/*")


@dataclass
class EpochLogger:
    """Logs one training into ``run``; one instance per trainer."""

    run: Any
    pending: dict[str, float] | None = None
    logged_epochs: list[int] = field(default_factory=list)

    def start(self, trainer: Any) -> None:
        """What the native callback would record at the start, namespaced so it never overrides the user's
        config keys; ``epoch`` as the step metric of every per-epoch family."""
        self.run.config.update({"ultralytics": plain(vars(trainer.args))}, allow_val_change=True)
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
        # One row per epoch, no explicit step: the step metric is `epoch`, the history step just advances.
        self.run.log({**self.pending, **metrics, "epoch": epoch})
        self.pending = None
        self.logged_epochs.append(epoch)

    def train_end(self, trainer: Any) -> None:
        best = Path(trainer.best)
        if not best.exists():
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
