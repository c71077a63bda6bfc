"""@tracked_training inside and outside a session; attach() outside a handoff."""

from __future__ import annotations

from pathlib import Path

import pytest

from wandb_ddp_bridge import AttachError, ConfigError, Handoff, Phase, attach, tracked_training, wandb_session
from wandb_ddp_bridge.session import active_session


def test_inside_a_session_the_call_is_the_training_phase(tmp_path: Path) -> None:
    seen: list[Phase] = []

    @tracked_training
    def train(epochs: int, handoff: Handoff) -> int:
        session = active_session()
        assert session is not None
        seen.append(session.phase)
        assert isinstance(handoff, Handoff)
        return epochs * 2

    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        assert train(3) == 6
        assert s.phase is Phase.POST
        assert train(1) == 2  # called again: a fresh handoff each call
    assert seen == [Phase.HANDOFF, Phase.HANDOFF]


def test_outside_a_session_it_runs_a_whole_session(tmp_path: Path) -> None:
    ids: list[str | None] = []

    @tracked_training(project="p", mode="offline", dir=str(tmp_path))
    def train() -> str:
        session = active_session()
        assert session is not None and session.phase is Phase.HANDOFF
        ids.append(session.id)
        return "done"

    assert train() == "done"
    assert active_session() is None
    assert ids[0] is not None


def test_outside_a_session_without_config_is_explained() -> None:
    @tracked_training
    def train() -> None:
        raise AssertionError("must not run")

    with pytest.raises(ConfigError, match=r"@tracked_training\(cfg\)"):
        train()


def test_exception_in_tracked_function_propagates_unchanged(tmp_path: Path) -> None:
    @tracked_training
    def train() -> None:
        raise ValueError("bad batch")

    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        with pytest.raises(ValueError, match="bad batch"):
            train()
        assert s.phase is Phase.POST and s.training_failed


def test_attach_outside_a_handoff_is_explained() -> None:
    with pytest.raises(AttachError, match="found no handed-off run"):
        attach()


def test_attach_on_other_rank_returns_none_without_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert attach() is None


class FakeModel:
    """Enough of an Ultralytics model for a handoff that never trains (in-process: the fast path holds the run)."""

    task_map: dict[str, object] = {}

    def add_callback(self, *args: object) -> None:
        pass

    def train(self, **kwargs: object) -> None:
        pass


def test_attach_while_parent_holds_the_run_is_refused(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        with s.handoff(FakeModel()) as h:
            assert h.holds_run
            done = subprocess.run(
                [sys.executable, "-c", "import wandb_ddp_bridge as b; b.attach()"],
                env=dict(os.environ),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode != 0 and "still open in the parent process" in done.stderr
            assert attach() is s._owner.held_run  # in-process: the session's own run, not a second writer
            h.release()
            assert not h.holds_run
        assert s.run is not None


def test_the_owner_says_where_the_run_is_at_every_step(tmp_path: Path) -> None:
    """Offline, one process: held by the fast path, released for workers, taken back; the states in order."""
    from wandb_ddp_bridge import RunState

    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        assert s.state is RunState.PRE
        with s.handoff(FakeModel()) as h:
            assert s.state is RunState.HANDED_OFF_HELD and h.holds_run
            h.release()
            assert s.state is RunState.HANDED_OFF_RELEASED and not h.holds_run
        assert s.state is RunState.POST and s.run is not None
        with s.handoff():
            assert s.state is RunState.HANDED_OFF_RELEASED and s.run is None
        assert s.state is RunState.POST
    assert s.state is RunState.FINISHED
    assert s._owner.history == (
        RunState.NEW,
        RunState.PRE,
        RunState.HANDED_OFF_HELD,
        RunState.HANDED_OFF_RELEASED,
        RunState.POST,
        RunState.HANDED_OFF_RELEASED,
        RunState.POST,
        RunState.FINISHED,
    )
