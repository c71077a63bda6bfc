"""Per-epoch charts as server-side SVG: one small chart per training metric, against ``epoch``.

The series are read from the rows ``verify`` counts as the training phase's (:mod:`..verify.training_rows`),
whatever their keys, one point per epoch (the last value logged for it). A key gets a chart when it was logged
at two epochs or more (or the training has one epoch): a value logged once, such as the model's parameter count
on the first row, is no series. Keys are grouped by family (the part before ``/``) and come in natural order;
the Y axis has round ticks (:mod:`.axis`). A long series is drawn downsampled
(largest-triangle-three-buckets keeps its peaks and dips) so a 1,000-epoch run stays a light page; the
page says so under the charts. Every number is formatted here and every text goes through ``esc``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..verify.training_rows import TrainingRows
from .axis import natural_key, nice_ticks
from .html import attrs, esc

__all__ = ["MAX_DRAWN", "Series", "chart_svg", "downsample", "epoch_series", "families", "fmt"]

#: Points drawn per chart at most (about one per pixel of the plot); longer series are downsampled for display.
MAX_DRAWN = 300
#: Up to this many drawn points each gets its own dot (with a tooltip): one dot per epoch on short runs.
MAX_DOTS = 150
_W, _H = 360, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 12, 28
_FAMILY_ORDER = ("train", "val", "metrics", "lr")
_FAMILY_TITLES = {
    "train": "Training losses",
    "val": "Validation losses",
    "metrics": "Metrics (precision, recall, mAP / accuracy)",
    "lr": "Learning rates",
    "": "Metrics",
}

Point = tuple[float, float]


@dataclass(frozen=True)
class Series:
    key: str
    points: tuple[Point, ...]  # (epoch, value), one per epoch, by epoch

    @property
    def family(self) -> str:
        """The part before the first ``/`` (``""`` for a key without one, such as a custom loop's ``loss``)."""
        return self.key.split("/", 1)[0] if "/" in self.key else ""


def _number(value: object) -> float | None:
    # exact types first: this runs once per logged value (20,000 times for 1,000 epochs x 20 metrics)
    if type(value) is float or type(value) is int:
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def epoch_series(training: TrainingRows) -> list[Series]:
    """One series per numeric key the training logged at two epochs or more (any, for a one-epoch training);
    an epoch logged twice keeps its last value. In first-seen order (:func:`families` sorts them)."""
    by_key: dict[str, dict[float, float]] = {}
    charted: dict[str, bool] = {}  # keys repeat on every row: decide each once
    for epoch, row in training.epoch_rows():
        x = float(epoch)
        for key, value in row.items():
            wanted = charted.get(key)
            if wanted is None:
                wanted = charted[key] = _is_metric_key(key)
            if not wanted:
                continue
            y = _number(value)
            if y is not None:
                points = by_key.get(key)
                if points is None:
                    points = by_key[key] = {}
                points[x] = y
    epochs = len(training.distinct_epochs)
    return [
        Series(key, tuple(sorted(points.items()))) for key, points in by_key.items() if len(points) >= 2 or epochs <= 1
    ]


def _is_metric_key(key: str) -> bool:
    """W&B's own keys start with ``_``; ``epoch`` is the X axis, not a metric."""
    return not key.startswith("_") and key != "epoch"


def families(series: Sequence[Series]) -> list[tuple[str, str, list[Series]]]:
    """``(family, title, series)`` groups: losses, validation losses, metrics, learning rates, then the others
    (keys without a family last); keys in natural order within each."""
    groups: dict[str, list[Series]] = {}
    for s in series:
        groups.setdefault(s.family, []).append(s)
    others = sorted((f for f in groups if f not in _FAMILY_ORDER and f), key=natural_key)
    order = [f for f in _FAMILY_ORDER if f in groups] + others + ([""] if "" in groups else [])
    return [(f, _FAMILY_TITLES.get(f, f"{f}/*"), sorted(groups[f], key=lambda s: natural_key(s.key))) for f in order]


def downsample(points: Sequence[Point], limit: int = MAX_DRAWN) -> list[Point]:
    """Largest-triangle-three-buckets: at most ``limit`` points, first and last kept, peaks preserved."""
    n = len(points)
    if n <= limit or limit < 3:
        return list(points)
    out = [points[0]]
    every = (n - 2) / (limit - 2)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    # prefix sums: each bucket's average in O(1)
    sum_x, sum_y = [0.0], [0.0]
    for px, py in points:
        sum_x.append(sum_x[-1] + px)
        sum_y.append(sum_y[-1] + py)
    a = 0
    for i in range(limit - 2):
        start, end = int(i * every) + 1, int((i + 1) * every) + 1
        nxt_start, nxt_end = end, min(int((i + 2) * every) + 1, n)
        if nxt_end > nxt_start:
            count = nxt_end - nxt_start
            avg_x = (sum_x[nxt_end] - sum_x[nxt_start]) / count
            avg_y = (sum_y[nxt_end] - sum_y[nxt_start]) / count
        else:
            avg_x, avg_y = points[-1]
        ax, ay = xs[a], ys[a]
        dx, dy = ax - avg_x, avg_y - ay
        best, best_area = start, -1.0
        for j in range(start, min(end, n - 1)):
            area = abs(dx * (ys[j] - ay) - (ax - xs[j]) * dy)
            if area > best_area:
                best, best_area = j, area
        out.append(points[best])
        a = best
    out.append(points[-1])
    return out


def fmt(value: float) -> str:
    """A short, exact-enough number for axes and tooltips."""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-4:
        return f"{value:.3e}"
    return f"{value:.4g}"


def _span(lo: float, hi: float) -> tuple[float, float]:
    if hi > lo:
        return lo, hi
    pad = abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def chart_svg(series: Series) -> str:
    """One metric against epoch: the line, a dot per epoch on short runs, round Y ticks and first/last epochs."""
    drawn = downsample(series.points)
    xs = [p[0] for p in series.points]
    ys = [p[1] for p in series.points]
    x0, x1 = _span(min(xs), max(xs))
    ticks_y = nice_ticks(min(ys), max(ys))
    y0, y1 = ticks_y.low, ticks_y.high
    pw, ph = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    kx, ky = pw / (x1 - x0), ph / (y1 - y0)

    def sx(x: float) -> float:
        return _LEFT + (x - x0) * kx

    def sy(y: float) -> float:
        return _TOP + ph - (y - y0) * ky

    parts = [
        f'<svg viewBox="0 0 {_W} {_H}" class="chart-svg"{attrs(role="img", aria_label=f"{series.key} per epoch")}>',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{pw}" height="{ph}" class="plot"/>',
    ]
    for value, label in zip(ticks_y.values, ticks_y.labels, strict=True):
        y = sy(value)
        parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{_LEFT - 4}" y="{y + 3:.1f}" class="ylab">{esc(label)}</text>')
    first, last = min(xs), max(xs)
    ticks = [first, last] if last != first else [first]
    if last - first >= 4:
        ticks.insert(1, round((first + last) / 2))
    for x in ticks:
        parts.append(f'<text x="{sx(x):.1f}" y="{_H - 10}" class="xlab">{esc(fmt(x))}</text>')
    parts.append(f'<text x="{_LEFT + pw}" y="{_H - 1}" class="xname">epoch</text>')
    left, bottom = _LEFT - x0 * kx, _TOP + ph + y0 * ky  # inlined sx/sy: this runs for every drawn point
    coords = " ".join(f"{left + x * kx:.1f},{bottom - y * ky:.1f}" for x, y in drawn)
    parts.append(f'<polyline points="{coords}" class="line"/>')
    if len(drawn) <= MAX_DOTS:
        for x, y in drawn:
            parts.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" class="dot"{attrs(data_epoch=fmt(x))}>'
                f"<title>{esc(series.key)} · epoch {esc(fmt(x))}: {esc(fmt(y))}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
