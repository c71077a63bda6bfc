"""The phase markers: the summary keys in which a session records the time of every phase boundary.

``verify`` and the run page read them back; these names are the contract between the writer and the readers,
defined here only.
"""

from __future__ import annotations

import re

__all__ = ["FAILED_KEY", "FAILURE_KEY", "MARKERS_KEY", "STAGES", "marker", "parse_marker"]

MARKERS_KEY = "bridge_phases"
FAILED_KEY = "bridge_failed"
FAILURE_KEY = "bridge_failure"
#: Stages of a run in the order they happen; "training" and "post" repeat once per handoff.
STAGES = ("pre", "training", "post")
_MARKER = re.compile(r"^(?P<stage>pre|training|post)(?:_(?P<n>[2-9]|[1-9][0-9]+))?_(?P<edge>start|end|seconds)$")


def marker(stage: str, handoff: int, edge: str) -> str:
    """The summary key of one boundary: ``marker("training", 2, "start") == "training_2_start"``.

    ``handoff`` counts handoffs so far (0 in pre-training); the first handoff's keys carry no number.
    """
    if stage not in STAGES or edge not in ("start", "end", "seconds"):
        raise ValueError(f"unknown phase marker {stage!r}/{edge!r}")
    suffix = f"_{handoff}" if stage != "pre" and handoff > 1 else ""
    return f"{stage}{suffix}_{edge}"


def parse_marker(key: str) -> tuple[str, int, str] | None:
    """``(stage, handoff, edge)`` of a marker key, ``None`` for any other key."""
    found = _MARKER.match(key)
    if found is None:
        return None
    stage = found["stage"]
    handoff = 0 if stage == "pre" else int(found["n"] or 1)
    if stage == "pre" and found["n"]:
        return None
    return stage, handoff, found["edge"]
