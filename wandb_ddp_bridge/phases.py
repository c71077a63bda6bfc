"""The session's lifecycle: one table of allowed moves, one message per illegal move.

    NEW --enter--> PRE --handoff--> HANDOFF --return--> POST --handoff--> HANDOFF ... --exit--> FINISHED

Every session method is checked against ``METHOD_PHASES`` when it is called (not when it was looked up),
so the same object behaves correctly on every rank and across phases.
"""

from __future__ import annotations

import enum

from .errors import PhaseError

__all__ = ["METHOD_PHASES", "TRANSITIONS", "Phase", "check_method", "next_phase"]


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

_LOGGING_PHASES = frozenset({Phase.PRE, Phase.POST})
METHOD_PHASES: dict[str, frozenset[Phase]] = {
    name: _LOGGING_PHASES
    for name in (
        "log",
        "summary",
        "save_config",
        "save_artifacts",
        "save_metadata",
        "log_s3_artifact",
        "log_model",
        "log_artifact",
    )
}

_TRANSITION_ERRORS: dict[tuple[Phase, str], str] = {
    (Phase.NEW, "handoff"): "the session has not started: enter it first (`with wandb_session(cfg) as s:`), "
    "then call s.handoff() inside the block",
    (Phase.HANDOFF, "handoff"): "the run is already handed off: handoffs do not nest; train inside the current "
    "`with s.handoff():` block",
    (Phase.FINISHED, "handoff"): "the session has finished and its run is closed; hand off inside the "
    "`with wandb_session(...)` block",
    (Phase.PRE, "enter"): "the session is already open: a session is entered once",
    (Phase.HANDOFF, "enter"): "the session is already open: a session is entered once",
    (Phase.POST, "enter"): "the session is already open: a session is entered once",
    (Phase.FINISHED, "enter"): "the session has finished; open a new one with wandb_session(cfg) "
    "(it creates a new run)",
    (Phase.NEW, "exit"): "the session was never started, so there is nothing to finish",
    (Phase.HANDOFF, "exit"): "the run is handed off to training: leave the `with s.handoff():` block "
    "(or call resume_after_training()) before finishing the session",
    (Phase.FINISHED, "exit"): "the session has already finished its run; finish is done exactly once",
}

_METHOD_ERRORS: dict[Phase, str] = {
    Phase.NEW: "the session has not started: use `with wandb_session(cfg) as s:` and call s.{method}() "
    "inside the block",
    Phase.HANDOFF: "the run is handed off to training, so s.{method}() would race the training process for "
    "the run; call it after the `with s.handoff():` block exits, or log from the training process "
    "(Ultralytics metrics are logged for you; custom loops use attach())",
    Phase.FINISHED: "the session has finished and its run is closed; call s.{method}() inside the "
    "`with wandb_session(...)` block",
}


def next_phase(current: Phase, action: str) -> Phase:
    """The phase after ``action``, or a PhaseError saying what to do instead."""
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        reason = _TRANSITION_ERRORS.get(
            (current, action), f"cannot {action} while the session is {current.value}"
        )
        raise PhaseError(f"{action}: {reason}") from None


def check_method(current: Phase, method: str) -> None:
    """Raise PhaseError unless ``method`` may be called in ``current``."""
    if current in METHOD_PHASES[method]:
        return
    raise PhaseError(f"s.{method}(): " + _METHOD_ERRORS[current].format(method=method))
