"""The run's lifecycle: one table of allowed moves (:data:`MOVES`), one message per illegal move.

    NEW --enter--> PRE --handoff--> HANDOFF --return--> POST --handoff--> HANDOFF ... --exit--> FINISHED

The owner tracks finer states (:class:`RunState`: handed off and held by this process, or released to
workers; taken back or lost); the user-facing phases are derived from them.

Every session method is checked against ``METHOD_PHASES`` when it is called (not when it was looked up),
so the same object behaves correctly on every rank and across phases.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import PhaseError
from .markers import FAILED_KEY, FAILURE_KEY, MARKERS_KEY, STAGES, marker, parse_marker

__all__ = [
    "ACTIONS",
    "ACTION_MOVES",
    "FAILED_KEY",
    "FAILURE_KEY",
    "MARKERS_KEY",
    "METHOD_PHASES",
    "MOVES",
    "RUN_PHASES",
    "SESSION",
    "STAGES",
    "TRANSITIONS",
    "Phase",
    "RunState",
    "Vocabulary",
    "advance",
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


class RunState(enum.Enum):
    """Where the run is, as its one owner (``owner.RunOwner``) knows it; :attr:`phase` is what the user sees."""

    NEW = "not started"
    PRE = "open in pre-training"
    HANDED_OFF_HELD = "handed off, and still held open by this process for in-process training (fast path)"
    HANDED_OFF_RELEASED = "handed off, and released to the training process(es)"
    POST = "open in post-training"
    LOST = "lost: it could not be taken back after training"
    FINISHED = "finished"

    @property
    def phase(self) -> Phase:
        return _PHASE_OF[self]


_PHASE_OF = {
    RunState.NEW: Phase.NEW,
    RunState.PRE: Phase.PRE,
    RunState.HANDED_OFF_HELD: Phase.HANDOFF,
    RunState.HANDED_OFF_RELEASED: Phase.HANDOFF,
    RunState.POST: Phase.POST,
    RunState.LOST: Phase.POST,  # post-training without its run: every write says why (``BackendError``)
    RunState.FINISHED: Phase.FINISHED,
}

_S = RunState
#: The one table of the run's lifecycle: (state, move) -> next state. Anything not here is refused.
MOVES: dict[tuple[RunState, str], RunState] = {
    (_S.NEW, "enter"): _S.PRE,
    (_S.PRE, "abort"): _S.NEW,  # a start that failed is undone
    (_S.PRE, "hand_off"): _S.HANDED_OFF_RELEASED,  # the run closed (or none on this rank): workers resume it
    (_S.POST, "hand_off"): _S.HANDED_OFF_RELEASED,
    (_S.PRE, "hold"): _S.HANDED_OFF_HELD,  # handed off, but kept open for training in this process
    (_S.POST, "hold"): _S.HANDED_OFF_HELD,
    (_S.HANDED_OFF_HELD, "release"): _S.HANDED_OFF_RELEASED,  # training spawns workers after all
    (_S.HANDED_OFF_HELD, "take_back"): _S.POST,  # still open: nothing to resume
    (_S.HANDED_OFF_RELEASED, "resume"): _S.POST,  # resumed (or kept in an offline copy)
    (_S.HANDED_OFF_HELD, "abandon"): _S.LOST,
    (_S.HANDED_OFF_RELEASED, "abandon"): _S.LOST,
    (_S.PRE, "exit"): _S.FINISHED,
    (_S.POST, "exit"): _S.FINISHED,
    (_S.LOST, "exit"): _S.FINISHED,
}
ACTIONS = ("enter", "handoff", "return", "exit")
#: The moves each user action is made of: the user sees ``handoff``; the owner holds or hands off the run.
ACTION_MOVES: dict[str, tuple[str, ...]] = {
    "enter": ("enter",),
    "handoff": ("hand_off", "hold"),
    "return": ("take_back", "resume", "abandon"),
    "exit": ("exit",),
}
#: The same lifecycle as the user sees it, derived from :data:`MOVES` (never written twice):
#: NEW -enter-> PRE -handoff-> HANDOFF -return-> POST (-handoff-> ...) -exit-> FINISHED.
TRANSITIONS: dict[tuple[Phase, str], Phase] = {
    (state.phase, action): target.phase
    for (state, move), target in MOVES.items()
    for action, moves in ACTION_MOVES.items()
    if move in moves
}

#: Phases in which the session holds a live run in this process (on the main rank).
RUN_PHASES = frozenset({Phase.PRE, Phase.POST})
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


#: What each internal move is for, in the message that refuses it (the user's moves have their own above).
_MOVE_PURPOSE = {
    "abort": "undo a failed start",
    "hand_off": "hand the run off",
    "hold": "hand the run off and keep it open",
    "release": "release the run to the training processes",
    "take_back": "take the run back",
    "resume": "resume the run",
    "abandon": "give the run up as lost",
}


def advance(current: RunState, move: str, words: Vocabulary = SESSION) -> RunState:
    """The state after ``move``, or a PhaseError: the user's message for its action (``handoff``...) when
    the phase refuses that action, else one naming the move and the state it was refused in."""
    target = MOVES.get((current, move))
    if target is not None:
        return target
    for action, moves in ACTION_MOVES.items():
        if move in moves and (current.phase, action) not in TRANSITIONS:
            next_phase(current.phase, action, words)  # raises the user's message
    purpose = _MOVE_PURPOSE.get(move, move)
    allowed = ", ".join(state.name for (state, name) in MOVES if name == move) or "no state"
    raise PhaseError(
        f"cannot {purpose} ({move!r}) while the run is {current.value}; that move is allowed only from "
        f"{allowed}. This is a bug in wandb-ddp-bridge's run owner: please report it with this message"
    )


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
