"""The session's lifecycle: one table of allowed moves, one message per illegal move.

    NEW --enter--> PRE --handoff--> HANDOFF --return--> POST --handoff--> HANDOFF ... --exit--> FINISHED

Every session method is checked against ``METHOD_PHASES`` when it is called (not when it was looked up),
so the same object behaves correctly on every rank and across phases.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .errors import PhaseError

__all__ = [
    "ACTIONS",
    "FAILED_KEY",
    "FAILURE_KEY",
    "LOG_TARGET",
    "MARKERS_KEY",
    "METHOD_PHASES",
    "RUN_PHASES",
    "SESSION",
    "STAGES",
    "TRANSITIONS",
    "Phase",
    "Vocabulary",
    "check_method",
    "holds_run",
    "marker",
    "next_phase",
    "parse_marker",
]


class Phase(enum.Enum):
    NEW = "new"
    PRE = "pre-training"
    HANDOFF = "handed off to training"
    POST = "post-training"
    FINISHED = "finished"


TRANSITIONS: dict[tuple[Phase, str], Phase] = {
    (Phase.NEW, "enter"): Phase.PRE,
    (Phase.PRE, "handoff"): Phase.HANDOFF,
    (Phase.POST, "handoff"): Phase.HANDOFF,
    (Phase.HANDOFF, "return"): Phase.POST,
    (Phase.PRE, "exit"): Phase.FINISHED,
    (Phase.POST, "exit"): Phase.FINISHED,
}
ACTIONS = ("enter", "handoff", "return", "exit")

#: Phases in which the session holds a live run in this process (on the main rank).
RUN_PHASES = frozenset({Phase.PRE, Phase.POST})
#: Where ``log()`` writes in each phase that allows it: history rows, like ``run.log()``. Training rows logged
#: with explicit steps after PRE rows are rebased by the attachment (``steps``), so none is dropped.
LOG_TARGET: dict[Phase, str] = {Phase.PRE: "history", Phase.POST: "history"}

METHOD_PHASES: dict[str, frozenset[Phase]] = {
    name: RUN_PHASES
    for name in (
        "log",
        "summary",
        "save_config",
        "save_artifacts",
        "save_metadata",
        "log_s3_artifact",
        "log_model",
        "log_artifact",
        # the WandbManager's own names (wandb_ddp_bridge.compat)
        "save_training_artifacts",
        "save_training_job_metadata",
    )
}


def holds_run(phase: Phase) -> bool:
    """Whether a session in ``phase`` holds its run (the other phases: not yet, handed off, or closed)."""
    return phase in RUN_PHASES


@dataclass(frozen=True)
class Vocabulary:
    """How one API names the moves, so every message tells its users what to call instead.

    ``actions`` names the four moves; ``method`` formats a method name; the rest are phrases the messages
    are built from (see ``_TRANSITION_ERRORS``/``_METHOD_ERRORS``).
    """

    actions: dict[str, str]
    method: str
    start: str
    handoff: str
    take_back: str
    after_training: str
    not_started: str
    already_open: str
    finished: str
    finish_done: str
    finish_twice: str
    new: str


SESSION = Vocabulary(
    actions={action: action for action in ACTIONS},
    method="s.{name}()",
    start="enter it first (`with wandb_session(cfg) as s:`)",
    handoff="s.handoff() inside the block",
    take_back="leave the `with s.handoff():` block",
    after_training="after the `with s.handoff():` block exits",
    not_started="the session has not started",
    already_open="the session is already open",
    finished="the session has finished and its run is closed",
    finish_done="the `with wandb_session(...)` block already ended it",
    finish_twice="leave the `with wandb_session(...)` block once, and for another run use wandb_session(cfg) again",
    new="open a new session with wandb_session(cfg) (it creates a new run)",
)

# One message per (phase, move) that the table refuses; {placeholders} come from a Vocabulary.
_TRANSITION_ERRORS: dict[tuple[Phase, str], str] = {
    (Phase.NEW, "handoff"): "{not_started}: {start}, then call {handoff}",
    (Phase.NEW, "return"): "{not_started}, so nothing is handed off: {start}, then call {handoff} before training",
    (Phase.NEW, "exit"): "{not_started}, so there is nothing to finish: {start}",
    (Phase.PRE, "enter"): "{already_open}: the run is open, use it (it is entered once)",
    (Phase.HANDOFF, "enter"): "{already_open}: the run is open and handed off to training; use it: train inside "
    "the current handoff, then {take_back}",
    (Phase.POST, "enter"): "{already_open}: the run is open, use it (it is entered once)",
    (Phase.FINISHED, "enter"): "{finished}; {new}",
    (Phase.PRE, "return"): "the run is not handed off, so there is nothing to take back; call {handoff} before "
    "training",
    (Phase.POST, "return"): "the run is not handed off, so there is nothing to take back; call {handoff} before "
    "training",
    (Phase.FINISHED, "return"): "{finished}, so nothing is handed off; {new}",
    (Phase.HANDOFF, "handoff"): "the run is already handed off: handoffs do not nest; train inside the current "
    "handoff, then {take_back}",
    (Phase.FINISHED, "handoff"): "{finished}; hand off before the run finishes, or {new}",
    (Phase.HANDOFF, "exit"): "the run is handed off to training: {take_back} first (it takes the run back), "
    "then finish",
    (Phase.FINISHED, "exit"): "the run is already finished: a run is finished exactly once ({finish_done}); "
    "{finish_twice}",
}

_METHOD_ERRORS: dict[Phase, str] = {
    Phase.NEW: "{not_started}: {start}, then call {method}",
    Phase.HANDOFF: "the run is handed off to training, so {method} would race the training process for the run; "
    "call it {after_training}, or log from the training process (Ultralytics metrics are logged for you; "
    "custom loops use attach())",
    Phase.FINISHED: "{finished}; {method} has nothing to write to. Call it before the run finishes, or {new}",
}
_NOT_IN_THIS_PHASE = "{method} is not allowed while the session is {phase}; it is allowed {allowed}"


def next_phase(current: Phase, action: str, words: Vocabulary = SESSION) -> Phase:
    """The phase after ``action``, or a PhaseError saying what to do instead."""
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        template = _TRANSITION_ERRORS.get((current, action), "cannot {action} while the session is {phase}")
        label = words.actions.get(action, action)
        reason = _fill(template, words, action=label, phase=current.value)
        raise PhaseError(f"{label}: {reason}") from None


def check_method(current: Phase, method: str, words: Vocabulary = SESSION) -> None:
    """Raise PhaseError unless ``method`` may be called in ``current``."""
    allowed = METHOD_PHASES.get(method, RUN_PHASES)
    if current in allowed:
        return
    call = words.method.format(name=method)
    template = _METHOD_ERRORS.get(current, _NOT_IN_THIS_PHASE)
    where = " or ".join(phase.value for phase in Phase if phase in allowed)
    raise PhaseError(f"{call}: " + _fill(template, words, method=call, phase=current.value, allowed=where))


def _fill(template: str, words: Vocabulary, **extra: str) -> str:
    values = {k: v for k, v in vars(words).items() if isinstance(v, str)}
    values.update(extra)
    return template.format(**values)


# ------------------------------------------------------------------------------------------ phase markers
# The session writes the time of every phase boundary into the run summary; verify and the run page read them
# back. These names are the contract between the two, defined here only.
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
