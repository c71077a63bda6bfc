"""The media panels of a training, built from trainer state as Ultralytics' own W&B callback builds them.

- :class:`PlotImages`: every plot Ultralytics registers (``trainer.plots``, ``trainer.validator.plots``:
  results, labels, confusion matrices, PR/P/R/F1 curve images, train and validation batches) as a
  ``wandb.Image`` under the file's stem, once per version of the file (Ultralytics redraws the validation
  plots for the final validation of ``best.pt``; the native callback logs that version too).
- :func:`curve_tables`: the ``curves/<name>`` W&B custom charts (logged as ``curves/<name>_table`` tables):
  the mean curve and one per class, 100 points each, rounded as the native callback does.
- :func:`model_info`: ``model/parameters``, ``model/GFLOPs``, ``model/speed_PyTorch(ms)``.

The same on every release of the compat matrix: these read only attributes the oldest tested release had.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CURVE_POINTS", "PlotImages", "curve_tables", "model_info"]

#: Points per curve (the native callback's ``num_x``).
CURVE_POINTS = 100


@dataclass
class PlotImages:
    """The plot files already logged, by path, with the timestamp Ultralytics registered them at."""

    seen: dict[Path, float] = field(default_factory=dict)

    def new(self, trainer: Any) -> dict[str, Any]:
        """``{stem: wandb.Image}`` for every plot registered or redrawn since the last call."""
        import wandb

        images: dict[str, Any] = {}
        for plots in (getattr(trainer, "plots", None), getattr(getattr(trainer, "validator", None), "plots", None)):
            # a copy: Ultralytics registers plots from its plotting threads
            for name, params in dict(plots or {}).items():
                path, stamp = Path(name), params.get("timestamp")
                if self.seen.get(path) == stamp or not path.is_file():
                    continue
                images[path.stem] = wandb.Image(str(path))
                self.seen[path] = stamp
        return images


def model_info(trainer: Any) -> dict[str, Any]:
    """What the native callback logs at the first epoch (Ultralytics' own helper of the installed release)."""
    from ultralytics.utils import torch_utils

    helper: Any = torch_utils.model_info_for_loggers
    return dict(helper(trainer))


def curve_tables(trainer: Any) -> dict[str, Any]:
    """``{"curves/<name>": custom chart}`` for the final validation's curves (none for classify, none when
    ``plots`` is off or the validation produced no curves, as with the oldest releases before a first true
    positive)."""
    if not getattr(trainer.args, "plots", False):
        return {}
    metrics: Any = getattr(getattr(trainer, "validator", None), "metrics", None)
    results = getattr(metrics, "curves_results", None)
    if not results:
        return {}
    names = [str(name) for name in dict(metrics.names).values()]
    return {
        f"curves/{curve}": _curve_chart(x, y, names, title=curve, x_title=x_title, y_title=y_title)
        for curve, (x, y, x_title, y_title) in zip(metrics.curves, results, strict=False)
    }


def _curve_chart(x: Any, y: Any, names: list[str], *, title: str, x_title: str, y_title: str) -> Any:
    import numpy as np
    import wandb

    x_new = np.linspace(x[0], x[-1], CURVE_POINTS).round(5)
    xs: list[float] = x_new.tolist()
    ys: list[float] = np.interp(x_new, x, np.mean(y, axis=0)).round(3).tolist()
    classes = ["mean"] * len(xs)
    for i, yi in enumerate(y):
        xs.extend(x_new.tolist())
        ys.extend(np.interp(x_new, x, yi).tolist())
        classes.extend([names[i] if i < len(names) else str(i)] * len(x_new))
    rows = [[c, round(float(yv), 3), round(float(xv), 3)] for c, yv, xv in zip(classes, ys, xs, strict=True)]
    return wandb.plot_table(
        "wandb/area-under-curve/v0",
        wandb.Table(data=rows, columns=["class", "y", "x"]),
        fields={"x": "x", "y": "y", "class": "class"},
        string_fields={"title": title, "x-axis-title": x_title, "y-axis-title": y_title},
    )
