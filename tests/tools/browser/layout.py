"""The run page's layout against what the server recorded: the timeline's bars and the epoch charts.

What the page must show is derived from the server's records alone: one bar per writer session, in the order
of the phases the run's markers record, each where the session's start and end fall on the time axis; one
chart per metric the run's history holds at two epochs or more. Where things are is read from the DOM
(``browser_support.boxes``): every bar and chart has an area, lies inside its container and the window, and
none overlaps another.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

from browser_support import SLACK, Box, assert_disjoint, assert_each_inside, assert_fits_the_viewport, boxes

from wandb_ddp_bridge.markers import MARKERS_KEY, parse_marker
from wandb_ddp_bridge.testing.records import RunRecord

#: How far a bar may sit from where the session's times put it, as a share of the track: the page widens a
#: bar shorter than 0.8 % of the axis to 0.8 % so that it stays visible, and rounds to 0.01 %.
PLACE_TOLERANCE = 0.012


def phases_in_order(record: RunRecord) -> list[str]:
    """The stage of every phase the run's markers record a start for, in the order they started."""
    markers = record.summary.get(MARKERS_KEY) or {}
    starts = []
    for key, value in markers.items():
        parsed = parse_marker(key)
        if parsed is not None and parsed[2] == "start":
            starts.append((float(value), parsed[1], parsed[0]))
    return [stage for _, _, stage in sorted(starts)]


def session_spans(record: RunRecord) -> list[tuple[float, float]]:
    """Each writer session's place on the page's time axis, ``(start, end)`` as shares of it (0 to 1): the
    axis runs from the first session's start to the last one's end."""
    windows = [(s.started, s.ended if s.ended is not None else s.last_seen) for s in record.sessions]
    t0 = min(t for w in windows for t in w)
    span = (max(t for w in windows for t in w) - t0) or 1.0
    return [((start - t0) / span, (end - t0) / span) for start, end in windows]


def charted_metrics(record: RunRecord) -> list[str]:
    """The metrics the run logged per epoch: numeric keys (not W&B's ``_*``, not ``epoch`` itself) of the
    history rows that carry an epoch, each at two epochs or more (any, for a one-epoch run); sorted."""
    epochs_of: dict[str, set[float]] = {}
    epochs: set[float] = set()
    for row in record.history:
        epoch = row.get("epoch")
        if not isinstance(epoch, (int, float)):
            continue
        epochs.add(float(epoch))
        for key, value in row.items():
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if numeric and not key.startswith("_") and key != "epoch":
                epochs_of.setdefault(key, set()).add(float(epoch))
    return sorted(key for key, seen in epochs_of.items() if len(seen) >= 2 or len(epochs) <= 1)


def assert_timeline_layout(tab: Any, record: RunRecord) -> list[tuple[Box, str]]:
    """One bar per session, rows top to bottom in phase order, bars left to right where the server's session
    times put them, none overlapping, all inside their tracks and the window. Returns each bar's box and
    computed colour (for the screenshot checks)."""
    phases = phases_in_order(record)
    shown = tab.locator(".timeline .tl-row[data-phase]").evaluate_all("rs => rs.map(r => r.dataset.phase)")
    assert len(record.sessions) == len(phases), (record.sessions, phases)  # one phase per writer session
    assert shown == phases, f"timeline rows {shown}; the markers recorded {phases}"
    rows = boxes(tab, ".timeline .tl-row[data-phase]")
    for i, (upper, lower) in enumerate(pairwise(rows)):
        assert lower.top >= upper.bottom - SLACK, f"row {i + 1} {lower} is not below row {i} {upper}"
    bars = assert_each_inside(tab, ".timeline .tl-bar", ".tl-track")
    tracks = assert_each_inside(tab, ".timeline .tl-track", "#timeline")
    assert len(bars) == len(tracks) == len(record.sessions), (bars, tracks)
    for i, (bar, track, (start, end)) in enumerate(zip(bars, tracks, session_spans(record), strict=True)):
        left, right = ((x - track.left) / track.width for x in (bar.left, bar.right))
        assert abs(left - start) <= PLACE_TOLERANCE and abs(right - end) <= PLACE_TOLERANCE, (
            f"bar #{i} spans {left:.3f}-{right:.3f} of its track; session #{i} ran {start:.3f}-{end:.3f} of it"
        )
    for i, (earlier, later) in enumerate(pairwise(bars)):
        assert later.left >= earlier.right - SLACK, f"bar #{i + 1} {later} overlaps bar #{i} {earlier} in time"
    assert_fits_the_viewport(tab)
    colours = tab.locator(".timeline .tl-bar").evaluate_all("bs => bs.map(b => getComputedStyle(b).backgroundColor)")
    return list(zip(bars, colours, strict=True))


def assert_charts_layout(tab: Any, record: RunRecord) -> None:
    """One chart per metric the history holds per epoch, each with an area, inside its grid, its section and
    the window, its picture inside it, and no two overlapping."""
    expected = charted_metrics(record)
    shown = tab.locator("figure.chart").evaluate_all("fs => fs.map(f => f.dataset.metric)")
    assert sorted(shown) == expected, f"charts {sorted(shown)}; the history holds per epoch {expected}"
    assert len(set(shown)) == len(shown), f"a metric is charted twice: {shown}"
    charts = assert_each_inside(tab, "figure.chart", ".charts")
    assert_each_inside(tab, "figure.chart svg", "figure.chart")
    assert_each_inside(tab, ".charts", "#charts")
    assert_each_inside(tab, "main > section", "main")
    assert_disjoint(list(zip(shown, charts, strict=True)))
    assert_fits_the_viewport(tab)
