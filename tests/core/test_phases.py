"""The transition table and the method table: every method in every phase, every illegal move."""

from __future__ import annotations

import pytest

from wandb_ddp_bridge.errors import PhaseError
from wandb_ddp_bridge.phases import METHOD_PHASES, TRANSITIONS, Phase, check_method, next_phase

ACTIONS = ("enter", "handoff", "return", "exit")


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("action", ACTIONS)
def test_every_move_is_either_in_the_table_or_refused(phase: Phase, action: str) -> None:
    if (phase, action) in TRANSITIONS:
        assert next_phase(phase, action) is TRANSITIONS[(phase, action)]
    else:
        with pytest.raises(PhaseError, match=action):
            next_phase(phase, action)


def test_lifecycle_allows_repeated_handoffs_and_ends_finished() -> None:
    phase = Phase.NEW
    for action in ("enter", "handoff", "return", "handoff", "return", "exit"):
        phase = next_phase(phase, action)
    assert phase is Phase.FINISHED


@pytest.mark.parametrize("method", sorted(METHOD_PHASES))
@pytest.mark.parametrize("phase", list(Phase))
def test_methods_only_in_pre_and_post(method: str, phase: Phase) -> None:
    if phase in (Phase.PRE, Phase.POST):
        check_method(phase, method)
    else:
        with pytest.raises(PhaseError, match=rf"s\.{method}\(\)"):
            check_method(phase, method)


def test_handoff_message_says_when_to_log_instead() -> None:
    with pytest.raises(PhaseError, match=r"after the `with s.handoff\(\):` block exits"):
        check_method(Phase.HANDOFF, "log")


def test_nested_handoff_is_refused_with_guidance() -> None:
    with pytest.raises(PhaseError, match="handoffs do not nest"):
        next_phase(Phase.HANDOFF, "handoff")


def test_finishing_twice_is_refused() -> None:
    with pytest.raises(PhaseError, match="exactly once"):
        next_phase(Phase.FINISHED, "exit")


def test_finish_while_handed_off_is_refused() -> None:
    with pytest.raises(PhaseError, match=r"leave the `with s.handoff\(\):` block"):
        next_phase(Phase.HANDOFF, "exit")
