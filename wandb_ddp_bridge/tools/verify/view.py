"""The evidence read once for judging: training rows and epochs, phase spans from the markers, artifacts by phase.

Every rule reads the same :class:`RunView`, so nothing is computed twice and no rule parses markers itself.
Which rows the training wrote, and their epochs, comes from :mod:`.training_rows`.
Phase spans come from the markers the session writes into the summary (names from
:mod:`wandb_ddp_bridge.phases`); an artifact is put into a phase by the writer session that logged it when the
local server says which, else by its creation time when the backend reports one, and by type/name otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ...phases import STAGES, parse_marker
from .evidence import ArtifactInfo, RunEvidence
from .training_rows import TrainingRows, training_rows

__all__ = [
    "NO_EXPECTATIONS",
    "Expectations",
    "RunView",
    "Stage",
    "build_view",
    "epochs_logged",
]

#: The buckets artifacts are sorted into, in display order.
PHASE_BUCKETS = (*STAGES, "unknown")
_STAGE_NAMES = {"pre": "pre-training", "training": "training", "post": "post-training"}


@dataclass(frozen=True)
class Expectations:
    epochs: int | None = None
    artifacts: tuple[str, ...] = ()
    #: secret values (e.g. the API key in use) that must appear nowhere in the run config
    secrets: tuple[str, ...] = field(default=(), repr=False)


#: Nothing expected beyond what the run itself says (its configured epochs).
NO_EXPECTATIONS = Expectations()


@dataclass(frozen=True)
class Stage:
    """One span of the run's life as the markers record it: ``pre``, or ``training``/``post`` of a handoff."""

    stage: str
    handoff: int  # 0 for pre-training; 1, 2, ... for each handoff
    start: float | None
    end: float | None

    @property
    def label(self) -> str:
        name = _STAGE_NAMES[self.stage]
        return name if self.handoff <= 1 else f"{name} (handoff {self.handoff})"


@dataclass(frozen=True)
class RunView:
    """Everything the rules need, derived from one :class:`RunEvidence` once."""

    evidence: RunEvidence
    expect: Expectations
    stages: tuple[Stage, ...]  # in the order they happened
    training: TrainingRows  # the rows the training phase wrote, and their epochs
    epochs: tuple[int, ...]  # distinct epochs among them
    wanted_epochs: int | None  # epochs that must all be there
    last_epoch_time: float | None
    phases: Mapping[str, tuple[ArtifactInfo, ...]]  # PHASE_BUCKETS -> artifacts

    def first(self, stage: str, edge: str = "start") -> float | None:
        """The ``start``/``end`` time of the first span of ``stage``, ``None`` when unrecorded."""
        for span in self.stages:
            if span.stage == stage:
                return span.start if edge == "start" else span.end
        return None

    def spans(self, stage: str) -> list[Stage]:
        return [span for span in self.stages if span.stage == stage]

    @property
    def marker_window(self) -> tuple[float | None, float | None]:
        """Earliest and latest boundary time the markers record."""
        times = [t for span in self.stages for t in (span.start, span.end) if t is not None]
        return (min(times), max(times)) if times else (None, None)

    def stages_in_window(self, started: float | None, ended: float | None) -> list[Stage]:
        """The spans a writer session held the run for: those starting inside its window, else the span it
        resumed into (the last one started before it); empty when nothing can be said."""
        if started is None:
            return []
        end = ended if ended is not None else math.inf
        inside = [span for span in self.stages if span.start is not None and started <= span.start <= end]
        if inside:
            return inside
        before = [span for span in self.stages if span.start is not None and span.start <= started]
        return [max(before, key=lambda span: span.start or 0.0)] if before else []

    def label_window(self, started: float | None, ended: float | None) -> str:
        """Which phase(s) a writer session held the run for, from the spans starting inside its window."""
        spans = self.stages_in_window(started, ended)
        kinds = {span.stage for span in spans}
        if "pre" in kinds and "post" in kinds:
            return "all phases (in-process fast path: one writer throughout)"
        return spans[0].label if spans else "?"


def epochs_logged(history: Sequence[Mapping[str, object]], summary: Mapping[str, object] | None = None) -> list[int]:
    """Distinct epoch numbers (1-based) the training phase logged: the rows :func:`.training_rows.training_rows`
    finds (by the phase markers in ``summary``, else by metric names), each row's ``epoch`` key, else its place
    in step order."""
    return list(training_rows(history, summary).distinct_epochs)


def build_view(evidence: RunEvidence, expect: Expectations) -> RunView:
    stages = _stages(evidence.markers)
    training = training_rows(evidence.history, evidence.summary)
    epochs = training.distinct_epochs
    times = [float(t) for row in training.rows if isinstance(t := row.get("_timestamp"), (int, float))]
    view = RunView(
        evidence=evidence,
        expect=expect,
        stages=stages,
        training=training,
        epochs=epochs,
        wanted_epochs=expect.epochs or _configured_epochs(evidence.config) or (max(epochs) if epochs else None),
        last_epoch_time=max(times) if times else None,
        phases={},  # filled below: bucketing reads the spans above
    )
    buckets: dict[str, list[ArtifactInfo]] = {name: [] for name in PHASE_BUCKETS}
    for art in evidence.artifacts:
        buckets[_phase_of(art, view)].append(art)
    return replace(view, phases={name: tuple(arts) for name, arts in buckets.items()})


def _stages(markers: Mapping[str, float]) -> tuple[Stage, ...]:
    edges: dict[tuple[str, int], dict[str, float]] = {}
    for key, value in markers.items():
        parsed = parse_marker(key)
        if parsed is None or parsed[2] == "seconds":
            continue
        stage, handoff, edge = parsed
        edges.setdefault((stage, handoff), {})[edge] = value
    spans = [Stage(stage, handoff, e.get("start"), e.get("end")) for (stage, handoff), e in edges.items()]
    return tuple(sorted(spans, key=lambda span: (span.handoff, STAGES.index(span.stage))))


def _configured_epochs(config: Mapping[str, object]) -> int | None:
    value = config.get("epochs")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


# ------------------------------------------------------------------------------------ artifacts by phase
def _phase_of(artifact: ArtifactInfo, view: RunView) -> str:
    post_start = view.first("post")
    if artifact.session_window is not None:
        # the writer session that logged it (local server) beats a creation time in whole seconds
        by_session = _phase_of_session(artifact.session_window, view)
        if by_session is not None:
            return by_session
    if artifact.created is not None:
        # backends that report whole seconds: the true time lies in [created, created + 1)
        width = 1.0 if float(artifact.created).is_integer() else 0.0
        if post_start is not None:
            if artifact.created >= post_start:
                return "post"
            if artifact.created + width <= post_start:
                return _before_post(artifact, view)
            return _by_kind(artifact, view.expect.artifacts)
        if view.last_epoch_time is not None:
            return "post" if artifact.created > view.last_epoch_time else _before_post(artifact, view)
    return _by_kind(artifact, view.expect.artifacts)


def _by_kind(artifact: ArtifactInfo, expected: Sequence[str]) -> str:
    """No usable time: configs belong to pre-training, artifacts the caller expects to post-training."""
    if artifact.type == "config":
        return "pre"
    if artifact.name in expected:
        return "post"
    return "unknown"


def _phase_of_session(window: tuple[float | None, float | None], view: RunView) -> str | None:
    """The phase of the writer session that logged an artifact: the session holding the pre-training start is
    the pre phase, the one holding the post-training start the post phase, one between them training. A
    session holding both (in-process fast path: one writer throughout) says nothing."""
    started, ended = window
    if started is None:
        return None
    end = ended if ended is not None else math.inf
    pre, post, training = view.first("pre"), view.first("post"), view.first("training")
    has_pre = pre is not None and started <= pre <= end
    has_post = post is not None and (started <= post <= end or started >= post)
    if has_pre != has_post:
        return "pre" if has_pre else "post"
    if not has_pre and training is not None and started >= training:
        return "training"
    return None


def _before_post(artifact: ArtifactInfo, view: RunView) -> str:
    start = view.first("training")
    if artifact.type == "config" or start is None or artifact.created is None or artifact.created < start:
        return "pre"
    return "training"
