"""The phase rules, checked against expectations written out here (not read back from phases.py's tables),
and every refused move and method call in both vocabularies (the session's and WandbManager's) answered
with its own message that names what to call instead."""

from __future__ import annotations

import pytest

from wandb_ddp_bridge.compat import MANAGER
from wandb_ddp_bridge.errors import PhaseError
from wandb_ddp_bridge.phases import (
    ACTIONS,
    METHOD_PHASES,
    SESSION,
    Phase,
    RunState,
    Vocabulary,
    advance,
    check_method,
    next_phase,
)

NEW, PRE, HANDOFF, POST, FINISHED = Phase.NEW, Phase.PRE, Phase.HANDOFF, Phase.POST, Phase.FINISHED
#: The lifecycle, by hand: NEW -enter-> PRE -handoff-> HANDOFF -return-> POST (-handoff-> ...) -exit-> FINISHED
ALLOWED = {
    (NEW, "enter"): PRE,
    (PRE, "handoff"): HANDOFF,
    (HANDOFF, "return"): POST,
    (POST, "handoff"): HANDOFF,
    (PRE, "exit"): FINISHED,
    (POST, "exit"): FINISHED,
}
#: Every method of the session and of WandbManager that writes to the run; each only while a run is held.
METHODS = (
    "log",
    "summary",
    "save_config",
    "save_artifacts",
    "save_metadata",
    "log_s3_artifact",
    "log_model",
    "log_artifact",
    "save_training_artifacts",
    "save_training_job_metadata",
)
RUN_HELD = (PRE, POST)
VOCABULARIES = [pytest.param(SESSION, id="session"), pytest.param(MANAGER, id="manager")]
# What a message may tell the user to do, per vocabulary: a call to make, or a block to leave.
INSTRUCTIONS = {
    "session": (
        "with wandb_session(cfg) as s:",
        "wandb_session(cfg)",
        "s.handoff()",
        "leave the `with s.handoff():`",
        "use it",
        "call it",
        "log from the training process",
    ),
    "manager": (
        "call initialize() first",
        "call prepare_for_training()",
        "prepare_for_training() before",
        "call resume_after_training()",
        "create a new WandbManager",
        "use it",
        "remove the second call",
        "call it",
        "log from the training process",
    ),
}
GENERIC = ("while the session is", "is not allowed while")
MOVES = ("enter", "handoff", "return", "exit")
#: Every refused move: each is its own case, and each case asserts (the allowed ones are the test above)
REFUSED_MOVES = [(phase, action) for phase in Phase for action in MOVES if (phase, action) not in ALLOWED]


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("action", ["enter", "handoff", "return", "exit"])
def test_every_move_goes_where_the_lifecycle_says_or_is_refused(phase: Phase, action: str) -> None:
    if (phase, action) in ALLOWED:
        assert next_phase(phase, action) is ALLOWED[(phase, action)]
    else:
        with pytest.raises(PhaseError, match=rf"^{action}: "):
            next_phase(phase, action)


def test_the_four_moves_are_all_there_are() -> None:
    assert set(ACTIONS) == {"enter", "handoff", "return", "exit"}


def test_a_lifecycle_with_two_handoffs_ends_finished() -> None:
    phase = NEW
    for action in ("enter", "handoff", "return", "handoff", "return", "exit"):
        phase = next_phase(phase, action)
    assert phase is FINISHED


def test_every_writing_method_is_phase_checked() -> None:
    assert set(METHOD_PHASES) == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("phase", list(Phase))
def test_methods_only_while_the_run_is_held(method: str, phase: Phase) -> None:
    if phase in RUN_HELD:
        check_method(phase, method)
    else:
        with pytest.raises(PhaseError, match=rf"^s\.{method}\(\): "):
            check_method(phase, method)


def _name(words: Vocabulary) -> str:
    return "session" if words is SESSION else "manager"


def _instruction_missing(message: str, words: Vocabulary) -> bool:
    return not any(hint in message for hint in INSTRUCTIONS[_name(words)])


@pytest.mark.parametrize("words", VOCABULARIES)
@pytest.mark.parametrize(("phase", "action"), REFUSED_MOVES, ids=[f"{p.name}-{a}" for p, a in REFUSED_MOVES])
def test_every_refused_move_has_its_own_message_naming_what_to_do(words: Vocabulary, phase: Phase, action: str) -> None:
    with pytest.raises(PhaseError) as refused:
        next_phase(phase, action, words)
    message = str(refused.value)
    assert message.startswith(words.actions[action] + ": "), message
    assert not any(generic in message for generic in GENERIC), f"generic fallback for {phase}/{action}: {message}"
    assert not _instruction_missing(message, words), message


def test_the_refused_moves_are_every_move_the_lifecycle_does_not_allow() -> None:
    assert len(REFUSED_MOVES) + len(ALLOWED) == len(Phase) * len(MOVES)


@pytest.mark.parametrize("words", VOCABULARIES)
@pytest.mark.parametrize("phase", [NEW, HANDOFF, FINISHED])
@pytest.mark.parametrize("method", METHODS)
def test_every_refused_method_has_its_own_message_naming_what_to_do(
    words: Vocabulary, phase: Phase, method: str
) -> None:
    with pytest.raises(PhaseError) as refused:
        check_method(phase, method, words)
    message = str(refused.value)
    assert message.startswith(words.method.format(name=method) + ": "), message
    assert not any(generic in message for generic in GENERIC), message
    assert not _instruction_missing(message, words), message


def test_messages_differ_per_move_so_each_says_something_specific() -> None:
    for words in (SESSION, MANAGER):
        messages = []
        for phase in Phase:
            for action in ("enter", "handoff", "return", "exit"):
                if (phase, action) in ALLOWED:
                    continue
                with pytest.raises(PhaseError) as refused:
                    next_phase(phase, action, words)
                messages.append(str(refused.value))
        # PRE and POST share their wording for "enter" and "return": the situation is the same
        assert len(set(messages)) == len(messages) - 2


def test_handing_off_tells_when_to_log_instead() -> None:
    with pytest.raises(PhaseError, match=r"after the `with s.handoff\(\):` block exits"):
        check_method(HANDOFF, "log")
    with pytest.raises(PhaseError, match=r"call resume_after_training\(\) first"):
        check_method(HANDOFF, "log", MANAGER)


def test_finishing_while_handed_off_says_to_take_the_run_back_first() -> None:
    with pytest.raises(PhaseError, match=r"leave the `with s.handoff\(\):` block first"):
        next_phase(HANDOFF, "exit")
    with pytest.raises(PhaseError, match=r"call resume_after_training\(\) first"):
        next_phase(HANDOFF, "exit", MANAGER)


def test_nested_handoffs_and_a_second_finish_are_refused() -> None:
    with pytest.raises(PhaseError, match="handoffs do not nest"):
        next_phase(HANDOFF, "handoff")
    with pytest.raises(PhaseError, match="finished exactly once"):
        next_phase(FINISHED, "exit")


# ------------------------------------------------------------------------------------- the owner's run states
S = RunState
#: The owner's lifecycle, by hand (phases.MOVES must say exactly this).
STATE_MOVES = {
    (S.NEW, "enter"): S.PRE,
    (S.PRE, "abort"): S.NEW,
    (S.PRE, "hand_off"): S.HANDED_OFF_RELEASED,
    (S.POST, "hand_off"): S.HANDED_OFF_RELEASED,
    (S.PRE, "hold"): S.HANDED_OFF_HELD,
    (S.POST, "hold"): S.HANDED_OFF_HELD,
    (S.HANDED_OFF_HELD, "release"): S.HANDED_OFF_RELEASED,
    (S.HANDED_OFF_HELD, "take_back"): S.POST,
    (S.HANDED_OFF_RELEASED, "resume"): S.POST,
    (S.HANDED_OFF_HELD, "abandon"): S.LOST,
    (S.HANDED_OFF_RELEASED, "abandon"): S.LOST,
    (S.PRE, "exit"): S.FINISHED,
    (S.POST, "exit"): S.FINISHED,
    (S.LOST, "exit"): S.FINISHED,
}
OWNER_MOVES = sorted({move for _, move in STATE_MOVES})
USER_ACTION = {
    "enter": "enter",
    "hand_off": "handoff",
    "hold": "handoff",
    "take_back": "return",
    "resume": "return",
    "abandon": "return",
    "exit": "exit",
}


@pytest.mark.parametrize("state", list(RunState))
@pytest.mark.parametrize("move", OWNER_MOVES)
def test_every_owner_move_goes_where_the_table_says_or_is_refused(state: RunState, move: str) -> None:
    if (state, move) in STATE_MOVES:
        assert advance(state, move) is STATE_MOVES[(state, move)]
        return
    with pytest.raises(PhaseError) as refused:
        advance(state, move)
    message = str(refused.value)
    user_action = USER_ACTION.get(move)
    if user_action is not None and (state.phase, user_action) not in ALLOWED:
        assert message.startswith(f"{user_action}: ")  # the user's own message for that action
    else:
        assert f"({move!r}) while the run is {state.value}" in message  # names the move and the state


def test_refused_owner_moves_each_have_their_own_message() -> None:
    """Refusals of the owner's own moves each name their state and move; refusals of a user action share the
    user's message for that action (the phase table's, which reads the same in PRE and POST)."""
    seen: dict[str, str] = {}
    for state in RunState:
        for move in OWNER_MOVES:
            if (state, move) in STATE_MOVES:
                continue
            with pytest.raises(PhaseError) as refused:
                advance(state, move)
            action = USER_ACTION.get(move)
            user_refused = action is not None and (state.phase, action) not in ALLOWED
            what = f"user action {action}" if user_refused else f"{state.name}/{move}"
            assert seen.setdefault(str(refused.value), what) == what, str(refused.value)


def test_the_phase_table_is_the_owner_table_seen_from_outside() -> None:
    assert {(s.phase, USER_ACTION[m]): t.phase for (s, m), t in STATE_MOVES.items() if m in USER_ACTION} == ALLOWED
    assert {state.phase for state in RunState} == set(Phase)
