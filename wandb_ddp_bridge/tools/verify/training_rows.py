"""Which history rows the training phase wrote, and the epoch each one stands for.

A training is judged by what its training phase logged, whatever the keys: Ultralytics' ``train/*`` as much as
a custom loop's ``loss``. The phase a row belongs to comes from the most reliable source the evidence has:

1. **phase markers** (every backend): the session writes the start and end time of each training phase into
   the summary (``bridge_phases``, and per attempt of a restarted run ``bridge_attempts[i].phases``); a row
   whose ``_timestamp`` (set by the client when it logged the row) lies inside a training span is a training
   row. This is also the only source that separates the phases of the in-process fast path, where one writer
   session logs all three.
2. **metric names** (a run not written through the bridge has no markers, or a row without ``_timestamp``):
   rows with one of Ultralytics' per-epoch families (``train/``, ``val/``, ``metrics/``, ``lr/``).

The local server also knows which writer session sent each row, but its records do not expose it per row, and
in the fast path one session writes every phase, so the markers are used there as well.

A row's epoch is its ``epoch`` key; when no training row has one (Ultralytics' own callback logs none), the
training rows are counted in step order, the first being epoch 1. When some have one, rows without it (the
plots and tables logged at the end of training) are training rows but no epochs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...phases import MARKERS_KEY, parse_marker
from ...restarts import ATTEMPTS_KEY

__all__ = [
    "BY_MARKERS",
    "BY_NAMES",
    "EPOCH_METRIC_PREFIXES",
    "TrainingRows",
    "epoch_of_rows",
    "training_rows",
    "training_spans",
]

#: The per-epoch metric families of Ultralytics: what marks a training row when a run has no phase markers.
EPOCH_METRIC_PREFIXES = ("train/", "metrics/", "val/", "lr/")
#: How a row was known to be a training row (shown in verify's messages and on the page).
BY_MARKERS = "phase markers"
BY_NAMES = "metric names"

Span = tuple[float, float]


@dataclass(frozen=True)
class TrainingRows:
    """The training phase's rows in step order, how they were told apart, and the epoch of each."""

    rows: tuple[Mapping[str, Any], ...]
    source: str  # BY_MARKERS or BY_NAMES
    #: the epoch of each row in ``rows`` (``None``: a training row that is no epoch, e.g. final plots)
    epochs: tuple[int | None, ...]

    @property
    def distinct_epochs(self) -> tuple[int, ...]:
        return tuple(sorted({e for e in self.epochs if e is not None}))

    def epoch_rows(self) -> Iterable[tuple[int, Mapping[str, Any]]]:
        """``(epoch, row)`` for each row that stands for an epoch."""
        return ((e, row) for e, row in zip(self.epochs, self.rows, strict=True) if e is not None)


def training_rows(history: Sequence[Mapping[str, Any]], summary: Mapping[str, Any] | None = None) -> TrainingRows:
    """The rows the training phase wrote: by the phase markers in ``summary`` when it has any, else by name."""
    spans = training_spans(summary or {})
    rows = [row for row in history if _in_training(row, spans)]
    source = BY_MARKERS if spans else BY_NAMES
    rows.sort(key=_step_order)
    return TrainingRows(rows=tuple(rows), source=source, epochs=epoch_of_rows(rows))


def epoch_of_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[int | None, ...]:
    """Each row's epoch: its ``epoch`` key; when no row has one, its place in step order (1-based)."""
    keyed = [_whole(row.get("epoch")) for row in rows]
    if any(e is not None for e in keyed):
        return tuple(keyed)
    return tuple(range(1, len(rows) + 1))


def training_spans(summary: Mapping[str, Any]) -> tuple[Span, ...]:
    """Every training span the markers record, in this attempt's ``bridge_phases`` and in each earlier
    attempt's entry of ``bridge_attempts``. A span that never ended lasts until the next boundary recorded
    after its start (a later attempt's), else it is still open."""
    starts: dict[float, float | None] = {}
    boundaries: list[float] = []
    for markers in _marker_sets(summary):
        for key, value in markers.items():
            parsed, when = parse_marker(str(key)), _number(value)
            if parsed is None or parsed[2] == "seconds" or when is None:
                continue
            boundaries.append(when)
            stage, _, edge = parsed
            if stage == "training" and edge == "start":
                end = _number(markers.get(str(key).removesuffix("start") + "end"))
                starts[when] = end if end is not None else starts.get(when)
    spans = []
    for start, end in sorted(starts.items()):
        if end is None:
            later = [t for t in boundaries if t > start]
            end = min(later) if later else math.inf
        spans.append((start, end))
    return tuple(spans)


def _marker_sets(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    sets = [summary.get(MARKERS_KEY)]
    attempts = summary.get(ATTEMPTS_KEY)
    if isinstance(attempts, (list, tuple)):
        sets += [a.get("phases") for a in attempts if isinstance(a, Mapping)]
    return [s for s in sets if isinstance(s, Mapping)]


def _in_training(row: Mapping[str, Any], spans: Sequence[Span]) -> bool:
    timestamp = _number(row.get("_timestamp"))
    if spans and timestamp is not None:
        return any(start <= timestamp <= end for start, end in spans)
    return _has_epoch_metric(row)


def _has_epoch_metric(row: Mapping[str, Any]) -> bool:
    return any(str(k).startswith(EPOCH_METRIC_PREFIXES) for k in row)


def _step_order(row: Mapping[str, Any]) -> float:
    step = _number(row.get("_step"))
    return step if step is not None else math.inf


def _number(value: Any) -> float | None:
    """A finite number as a float; ``None`` for anything else (bool included)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _whole(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None
