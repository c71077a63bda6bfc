"""Every transition unwinds through one path: whatever fails, and wherever an interruption lands, the original
exception propagates, nothing stays registered, the environment is as before and no run is left open.

Faults are injected at the SDK call points (``sdk_faults``) and, for the notebook scenario, inside wandb's own
``Run.finish`` (where a real Ctrl-C lands while the run is being flushed).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sdk_faults import InjectedError, SdkFaults
from support import open_run, wandb_env

from wandb_ddp_bridge import PhaseError, wandb_session
from wandb_ddp_bridge.env import HANDOFF_ENV_VAR, MANAGED_VARIABLES
from wandb_ddp_bridge.handoff import active_handoff
from wandb_ddp_bridge.phases import FAILED_KEY, FAILURE_KEY, Phase
from wandb_ddp_bridge.session import active_session
from wandb_ddp_bridge.signals import SignalGuard, Terminated


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> SdkFaults:
    return SdkFaults.install(monkeypatch)


@pytest.fixture
def interrupt_inside_wandb_finish(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bool]]:
    """``armed["now"] = True`` makes the next ``run.finish()`` raise KeyboardInterrupt inside wandb, where a
    Ctrl-C during the flush lands (the run is already marked finished there, its stream still open)."""
    from wandb.sdk import wandb_run

    armed = {"now": False}
    real = wandb_run.Run._on_finish

    def on_finish(self: Any) -> None:
        if armed["now"]:
            armed["now"] = False
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(wandb_run.Run, "_on_finish", on_finish)
    yield armed


def assert_all_closed(session: Any, env_before: dict[str, str]) -> None:
    assert session.phase is Phase.FINISHED
    assert active_session() is None and active_handoff() is None
    assert open_run() is None
    assert wandb_env() == env_before


# ------------------------------------------------------------------------- the notebook Ctrl-C scenario
def test_ctrl_c_inside_wandbs_finish_at_handoff_ends_with_the_interrupt(
    tmp_path: Path, interrupt_inside_wandb_finish: dict[str, bool]
) -> None:
    env_before = wandb_env()
    s = wandb_session(project="nb", mode="offline", dir=str(tmp_path), fast_path="never")
    with pytest.raises(KeyboardInterrupt), s:
        interrupt_inside_wandb_finish["now"] = True
        with s.handoff():
            pytest.fail("the handoff must not start after an interrupted finish")
    assert_all_closed(s, env_before)
    with wandb_session(project="nb", mode="offline", dir=str(tmp_path)) as again:  # the kernel goes on
        assert again.run is not None


def test_ctrl_c_during_the_handoffs_finish_on_the_server(
    wandb_server: Any, interrupt_inside_wandb_finish: dict[str, bool]
) -> None:
    env_before = wandb_env()
    s = wandb_session(project="nb", fast_path="never")
    with pytest.raises(KeyboardInterrupt), s:
        s.summary["pre"] = 1
        interrupt_inside_wandb_finish["now"] = True
        with s.handoff():
            pass
    assert_all_closed(s, env_before)
    [run] = wandb_server.runs()
    assert run.created_count == 1 and not run.overlapping, run.sessions
    assert all(x.complete for x in run.sessions), run.sessions
    assert run.sessions[-1].exit_code == 130 and run.state == "failed"
    assert run.summary[FAILED_KEY] is True and run.summary[FAILURE_KEY].startswith("KeyboardInterrupt")
    assert run.summary["pre"] == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_interrupt_at_the_handoffs_finish_call(tmp_path: Path, faults: SdkFaults, when: str) -> None:
    env_before = wandb_env()
    s = wandb_session(project="nb", mode="offline", dir=str(tmp_path), fast_path="never")
    with pytest.raises(KeyboardInterrupt) as raised, s:
        fault = faults.arm("finish", when=when, kind="interrupt")
        with s.handoff():
            pass
    assert raised.value is fault.exc
    assert_all_closed(s, env_before)
    # the session's run, taken back (still open, or resumed), ended once with 130
    assert [f.exit_code for f in faults.finished][-1] == 130
    assert len({id(f.run) for f in faults.finished}) == len(faults.finished)


# ------------------------------------------------------------------------------ every transition
def test_failing_start_marker_leaves_nothing_behind(tmp_path: Path, faults: SdkFaults) -> None:
    env_before = wandb_env()
    s = wandb_session(project="p", mode="offline", dir=str(tmp_path))
    fault = faults.arm("summary", when="before")
    with pytest.raises(InjectedError) as raised:
        s.__enter__()
    assert raised.value is fault.exc
    assert s.phase is Phase.NEW and active_session() is None and open_run() is None
    assert wandb_env() == env_before
    assert [f.exit_code for f in faults.finished] == [1]  # the run it had created ended failed
    with s:  # nothing is left that refuses a retry
        assert s.run is not None


@pytest.mark.parametrize("when", ["before", "after"])
def test_interrupted_create_leaves_no_run_open(tmp_path: Path, faults: SdkFaults, when: str) -> None:
    env_before = wandb_env()
    faults.arm("init", when=when, kind="interrupt")
    with pytest.raises(KeyboardInterrupt):
        wandb_session(project="p", mode="offline", dir=str(tmp_path)).__enter__()
    assert active_session() is None and open_run() is None and wandb_env() == env_before
    assert [f.exit_code for f in faults.finished] == ([130] if when == "after" else [])


@pytest.mark.parametrize("when", ["before", "after"])
def test_failing_export_unwinds_the_handoff_like_a_failed_training(
    tmp_path: Path, faults: SdkFaults, when: str
) -> None:
    env_before = wandb_env()
    with wandb_session(project="p", mode="offline", dir=str(tmp_path), fast_path="never") as s:
        fault = faults.arm("export", when=when)
        with pytest.raises(InjectedError) as raised, s.handoff():
            pytest.fail("unreachable")
        assert raised.value is fault.exc
        assert s.phase is Phase.POST and active_handoff() is None
        assert HANDOFF_ENV_VAR not in os.environ
        assert s.run is not None and s.run is open_run()  # taken back for the post phase
        assert s.run.summary[FAILURE_KEY] == f"InjectedError: {fault.exc}"
        s.log({"post": 1})
    assert_all_closed(s, env_before)
    assert faults.finished[-1].exit_code == 1  # the caller swallowed it: the run still ended failed


def test_a_failing_resume_is_noted_on_the_training_error(tmp_path: Path, faults: SdkFaults) -> None:
    env_before = wandb_env()
    s = wandb_session(project="p", mode="offline", dir=str(tmp_path), fast_path="never")
    with pytest.raises(ZeroDivisionError) as raised, s, s.handoff():
        faults.arm("resume", when="before")
        1 / 0  # noqa: B018
    assert any("InjectedError" in note for note in getattr(raised.value, "__notes__", [])), raised.value
    assert_all_closed(s, env_before)


def test_a_failing_finish_at_the_end_is_raised_and_the_run_still_closed(tmp_path: Path, faults: SdkFaults) -> None:
    env_before = wandb_env()
    s = wandb_session(project="p", mode="offline", dir=str(tmp_path))
    with pytest.raises(InjectedError), s:
        faults.arm("finish", when="before")
    assert_all_closed(s, env_before)
    assert [f.exit_code for f in faults.finished] == [1]  # closed by the sweep, marked failed


def test_leaving_the_session_with_its_handoff_open_closes_everything(tmp_path: Path) -> None:
    env_before = wandb_env()
    s = wandb_session(project="p", mode="offline", dir=str(tmp_path), fast_path="never")
    with pytest.raises(PhaseError, match=r"leave the `with s.handoff\(\):` block"), s:
        s.handoff().__enter__()  # entered by hand and never left
    assert_all_closed(s, env_before)


def test_leaving_the_session_with_its_handoff_open_keeps_the_original_error(tmp_path: Path) -> None:
    s = wandb_session(project="p", mode="offline", dir=str(tmp_path), fast_path="never")
    with pytest.raises(ValueError, match="user code"), s:
        s.handoff().__enter__()
        raise ValueError("user code")
    assert s.phase is Phase.FINISHED and active_session() is None and active_handoff() is None


def test_a_handoff_is_entered_once(tmp_path: Path) -> None:
    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        handoff = s.handoff()
        with handoff:
            pass
        with pytest.raises(PhaseError, match="a handoff is used once"):
            handoff.__enter__()
        assert s.phase is Phase.POST
        with s.handoff():  # a new one is fine
            pass


def test_user_set_variables_are_kept_and_the_bridges_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "users-default")
    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        monkeypatch.setenv("WANDB_TAGS", "set-on-purpose")  # not the bridge's: kept
        monkeypatch.setenv("WANDB_PROJECT", "changed-in-pre")  # the bridge's: as before the session
        with s.handoff():
            pass
    assert os.environ["WANDB_TAGS"] == "set-on-purpose"
    assert os.environ["WANDB_PROJECT"] == "users-default"
    assert "WANDB_SERVICE" in MANAGED_VARIABLES and "WANDB_SERVICE" not in os.environ


# ---------------------------------------------------------------------------------------- signals
def test_a_restored_guard_raises_again_on_a_later_signal() -> None:
    guard = SignalGuard()
    for _ in range(2):
        guard.install()
        try:
            with pytest.raises(Terminated):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
        finally:
            guard.restore()
        assert guard.received is None
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


# wandb's network-status thread of the abandoned attempt complains once its service was shut down
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_sigterm_resume_is_abandoned_after_the_grace_period(
    wandb_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env_before = wandb_env()
    s = wandb_session(
        project="grace",
        dir=str(tmp_path),
        init_timeout=60,
        resume_attempts=3,
        resume_grace_seconds=2,
        fast_path="never",
    )
    with pytest.raises(Terminated), s, s.handoff():
        wandb_server.faults.outage(300)  # the resume would retry for 3 x 60 s
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert_all_closed(s, env_before)
    # abandoned within the grace, not by attempts running out: the first attempt was bounded by the grace and
    # no second one started (unbounded, attempt 1 alone waits init_timeout=60 s; how long it took: benchmarks)
    assert f"gave up resuming run {s.id}" in caplog.text
    assert "resume attempt 2/3 failed" not in caplog.text, caplog.text
    assert f"wandb sync --id {s.id}" in caplog.text
    assert "resume_grace_seconds=2" in caplog.text
    [offline] = list((tmp_path / "wandb").glob(f"offline-run-*-{s.id}*"))
    assert offline.is_dir()


def test_sigterm_during_a_slow_resume_is_honoured_after_the_grace_period(
    wandb_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    s = wandb_session(
        project="grace",
        dir=str(tmp_path),
        init_timeout=120,
        resume_attempts=3,
        resume_grace_seconds=3,
        fast_path="never",
    )

    def sigterm() -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Terminated), s, s.handoff():
        wandb_server.faults.outage(300)
        threading.Timer(1.0, sigterm).start()  # lands while the first resume attempt waits for the backend
    assert active_session() is None and open_run() is None
    # the first attempt was cut off by the grace (unbounded: 3 x 120 s, past the pytest timeout)
    assert f"gave up resuming run {s.id}" in caplog.text
    assert "resume attempt 2/3 failed" not in caplog.text, caplog.text
    # an offline copy with the sync command, or (where wandb still holds the attempt) how to record the end
    assert f"wandb sync --id {s.id}" in caplog.text or "run.finish(exit_code=143)" in caplog.text


def test_after_a_preemption_the_resume_grace_counts_from_the_signal(
    wandb_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The preemption watch took the signal while training ran here, and stopping training used up the grace:
    the run's end goes to the offline copy at once instead of a resume the scheduler's SIGKILL would cut."""
    from wandb_ddp_bridge.preemption import Preempted

    s = wandb_session(project="grace", dir=str(tmp_path), resume_grace_seconds=15, fast_path="never")
    with pytest.raises(Preempted), s, s.handoff():
        raise Preempted(signal.SIGTERM, received_at=time.monotonic() - 14)  # 14 of the 15 s went on the stop
    (run,) = wandb_server.runs(project="grace")
    assert (run.created_count, run.resumed_count) == (1, 0), "no resume was started after the grace"
    assert f"gave up resuming run {s.id}" in caplog.text
    assert f"wandb sync --id {s.id}" in caplog.text
    assert active_session() is None and open_run() is None


def test_a_preemption_within_the_grace_still_resumes_the_run(wandb_server: Any, tmp_path: Path) -> None:
    from wandb_ddp_bridge.preemption import Preempted

    s = wandb_session(project="grace-kept", dir=str(tmp_path), resume_grace_seconds=15, fast_path="never")
    with pytest.raises(Preempted), s, s.handoff():
        raise Preempted(signal.SIGTERM, received_at=time.monotonic() - 1)
    (run,) = wandb_server.runs(project="grace-kept")
    assert (run.created_count, run.resumed_count) == (1, 1)
    assert run.exit_code == 143 and run.summary[FAILED_KEY] is True
