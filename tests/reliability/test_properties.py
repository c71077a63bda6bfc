"""Property: any program of session steps, with a fault at any SDK call point, keeps the invariants.

A Hypothesis state machine plays a user's program: start a session, hand off (no model, an in-process model on
the fast path, a model whose training spawns workers), train (simulated in this process through attach/detach
or the run the parent keeps open), log and write the summary, set ``WANDB_*`` variables, end the session,
plus misuse (nested handoffs, a second exit, calls after the end, leaving the session with a handoff open).
Any step may find a fault armed at an SDK call point (``sdk_faults``: init, finish, resume, summary writes,
env export; an error or a ``KeyboardInterrupt``; before or after the real call); an exception that leaves a
block propagates through the enclosing blocks unless the drawn program catches it.

After every step: the exception a step raised is the one that started it (its own, or the fault), never a
substitute; a block that was left leaves nothing registered; the bridge's ``WANDB_*`` variables are as before
the session and the user's own are kept; no run is open once the session ended; every run object was finished
at most once and the session's run ended non-zero exactly when something failed. Against the real wandb SDK in
offline mode, and (smaller budget) against the local server, where the server's records are checked too.

The rules and invariants are here; the model they consult (what the program did, and the checks that follow
from it alone) is ``program_model.ProgramModel``.

Budgets: ``BRIDGE_HYPOTHESIS_PROFILE=ci`` (default) or ``thorough`` (``nox -s properties``). With
``BRIDGE_PROPERTY_REPORT=<file>`` the counts run are written there as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import Phase as Stage  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_integration import FAKE, FakeIntegration, FakeModel, TrainingError, child_trains  # noqa: E402
from program_model import STATS, Backend, ProgramModel  # noqa: E402
from sdk_faults import POINTS, SdkFaults  # noqa: E402
from support import open_run, wandb_env  # noqa: E402

from wandb_ddp_bridge import PhaseError, handoff  # noqa: E402
from wandb_ddp_bridge.env import HANDOFF_ENV_VAR  # noqa: E402
from wandb_ddp_bridge.handoff import active_handoff  # noqa: E402
from wandb_ddp_bridge.phases import Phase  # noqa: E402
from wandb_ddp_bridge.session import active_session  # noqa: E402

PROFILE_ENV = "BRIDGE_HYPOTHESIS_PROFILE"
REPORT_ENV = "BRIDGE_PROPERTY_REPORT"
_COMMON: dict[str, Any] = {
    "deadline": None,
    # no "explain" stage: its tracer makes every wandb.init take minutes
    "phases": [Stage.explicit, Stage.reuse, Stage.generate, Stage.target]
    + ([] if os.environ.get("BRIDGE_HYPOTHESIS_NO_SHRINK") else [Stage.shrink]),
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
}
# (offline examples, server examples, steps per example); the CI profile is derandomized: the same programs
# every run, so CI is reproducible. ``thorough`` draws new programs each time.
PROFILES = {
    "ci": (60, 15, 16, True),
    "thorough": (400, 40, 30, False),
}
USER_VARIABLE = "WANDB_TAGS"  # not the bridge's: a value set during the session is kept
BRIDGE_VARIABLE = "WANDB_PROJECT"  # the bridge's: back to its value before the session


def _profile() -> tuple[int, int, int, bool]:
    name = os.environ.get(PROFILE_ENV, "ci")
    if name not in PROFILES:
        raise pytest.UsageError(f"{PROFILE_ENV}={name!r}: use one of {', '.join(PROFILES)}")
    return PROFILES[name]


# ------------------------------------------------------------------------------------- the machine
class Program(ProgramModel):
    """The rules a drawn program is made of, and the invariants checked after every step."""

    # -------------------------------------------------------------------------------------- rules
    @initialize(
        point=st.sampled_from(POINTS),
        nth=st.integers(1, 4),
        when=st.sampled_from(["before", "after"]),
        kind=st.sampled_from(["error", "interrupt"]),
    )
    def plan_a_fault(self, point: str, nth: int, when: str, kind: str) -> None:
        """Every program starts with one fault pending somewhere; ``arm_fault`` adds more as it goes."""
        self.arm_fault(point, nth, when, kind)

    @rule(
        point=st.sampled_from(POINTS),
        nth=st.integers(1, 2),
        when=st.sampled_from(["before", "after"]),
        kind=st.sampled_from(["error", "interrupt"]),
    )
    def arm_fault(self, point: str, nth: int, when: str, kind: str) -> None:
        self.faults.arm(point, nth=nth, when=when, kind=kind)
        STATS[f"armed {point}"] += 1

    @precondition(lambda self: self.s is None)
    @rule(fast_path=st.sampled_from(["auto", "never"]))
    def start_session(self, fast_path: str) -> None:
        self._start(fast_path)

    @precondition(lambda self: self.s is not None and self.h is None)
    @rule(model=st.sampled_from(["none", "in-process", "spawns"]), caught=st.booleans())
    def hand_off(self, model: str, caught: bool) -> None:
        assert self.s is not None
        handed = None if model == "none" else FakeModel(spawns=model == "spawns")
        h = self.s.handoff(handed)
        mark = len(self.faults.fired)
        with self._taking_back():  # a handoff that fails after closing the run takes it back at once
            raised = self._call(h.__enter__)
        self._check_raised(raised, None, mark)
        if raised is None:
            self.h = h
            # the fast path: an integration that trains in this process keeps the run open
            self.holding = handed is not None and self.fast_path == "auto" and not self.lost
            return
        self.failed = True  # a handoff that failed to start ends the run failed, like a failed training
        assert self.s.phase is Phase.POST, self.s.phase
        if not caught:
            self._propagate(raised)

    @precondition(lambda self: self.h is not None)
    @rule(outcome=st.sampled_from(["ok", "error", "interrupt"]), work=st.booleans(), caught=st.booleans())
    def train(self, outcome: str, work: bool, caught: bool) -> None:
        assert self.h is not None
        STATS["steps"] += 1
        mark = len(self.faults.fired)
        primary: BaseException | None = None
        try:
            if work:
                if self.h.model is not None:
                    self.holding = self.holding and not self.h.model.spawns  # a launch releases the run first
                    self.h.train()
                else:
                    child_trains()
            if outcome == "error":
                raise TrainingError("loss is nan")
            if outcome == "interrupt":
                raise KeyboardInterrupt("Ctrl-C in training")
        except BaseException as error:
            primary = error
        if primary is not None and not isinstance(primary, (TrainingError, KeyboardInterrupt)):
            # the training itself may only fail by a fault (attach's resume, detach's or release's finish)
            self._check_raised(primary, None, mark)
        raised = self._exit_handoff(primary)
        self._check_raised(raised, primary, mark)
        if raised is None:
            return
        self.failed = True
        assert self.s is not None and self.s.phase is Phase.POST
        if not caught:
            raised_again = self._exit_session(raised)
            assert raised_again is raised, f"{raised_again!r} replaced {raised!r} at the session"
            self._session_over()

    @precondition(lambda self: self.s is not None)
    @rule(how=st.sampled_from(["log", "set", "update", "read"]), caught=st.booleans())
    def write(self, how: str, caught: bool) -> None:
        s = self.s
        assert s is not None
        misuse = self.h is not None  # the run is handed off: refused
        self.counter += 1
        key = f"k{self.counter}"
        actions = {
            "log": lambda: s.log({key: 1}),
            "set": lambda: s.summary.__setitem__(key, 1),
            "update": lambda: s.summary.update({key: 1}),
            "read": lambda: s.summary.get(key),
        }
        mark = len(self.faults.fired)
        raised = self._call(actions[how])
        if misuse:
            assert isinstance(raised, PhaseError), raised
        else:
            self._check_raised(raised, None, mark)
            if raised is None and how != "read":
                self.accepted[key] = "history" if how == "log" else "summary"
        if raised is not None and not caught:
            self._propagate(raised)

    @precondition(lambda self: self.s is not None and self.h is None)
    @rule(bridge_variable=st.booleans(), value=st.sampled_from(["a", "b"]))
    def set_variable(self, bridge_variable: bool, value: str) -> None:
        name = BRIDGE_VARIABLE if bridge_variable else USER_VARIABLE
        os.environ[name] = value
        if not bridge_variable:
            self.expected_env[name] = value

    @precondition(lambda self: self.h is not None)
    @rule(caught=st.booleans())
    def misuse_nested_handoff(self, caught: bool) -> None:
        assert self.s is not None
        raised = self._call(self.s.handoff().__enter__)
        assert isinstance(raised, PhaseError) and "do not nest" in str(raised), raised
        if not caught:
            self._propagate(raised)

    @precondition(lambda self: self.s is not None)
    @rule(outcome=st.sampled_from(["ok", "error", "interrupt"]), handoff_left_open=st.booleans())
    def end_session(self, outcome: str, handoff_left_open: bool) -> None:
        assert self.s is not None
        STATS["steps"] += 1
        mark = len(self.faults.fired)
        exc: BaseException | None = None
        if outcome == "error":
            exc = TrainingError("the program failed")
        elif outcome == "interrupt":
            exc = KeyboardInterrupt("Ctrl-C")
        raised = exc
        if self.h is not None and not handoff_left_open:
            raised = self._exit_handoff(exc)
            self._check_raised(raised, exc, mark)
        elif self.h is not None:
            self.h = None  # entered by hand and never left: the session takes the run back itself
            raised = self._exit_session(exc)
            if exc is None:
                assert isinstance(raised, PhaseError) and "leave the `with s.handoff():`" in str(raised), raised
                self.failed = True
            else:
                assert raised is exc
                self.failed = True
            self._session_over()
            return
        if raised is not None:
            self.failed = True
        final = self._exit_session(raised)
        self._check_raised(final, raised, mark)
        if final is not None and not self._landed_after_the_last_finish(final):
            self.failed = True
        self._session_over()

    @precondition(lambda self: self.s is None and self.ended is not None)
    @rule(call=st.sampled_from(["exit", "log", "enter", "handoff", "summary"]))
    def misuse_after_the_end(self, call: str) -> None:
        s = self.ended
        assert s is not None
        calls_before = sum(self.faults.calls.values())
        actions = {
            "exit": lambda: s.__exit__(None, None, None),
            "log": lambda: s.log({"late": 1}),
            "enter": s.__enter__,
            "handoff": lambda: s.handoff().__enter__(),
            "summary": lambda: s.summary.__setitem__("late", 1),
        }
        if self.ended_before_entering and call == "enter":  # a start that failed may be retried
            self.ended = None
            self.s, self.failed, self.finish_mark, self.expected_env = s, False, len(self.faults.finished), wandb_env()
            self._enter(s)
            return
        raised = self._call(actions[call])
        assert isinstance(raised, PhaseError), raised
        assert sum(self.faults.calls.values()) == calls_before, "a refused call reached the SDK"

    # ---------------------------------------------------------------------------------- invariants
    @invariant()
    def registry_env_and_runs_are_consistent(self) -> None:
        if self.s is None:
            assert active_session() is None and active_handoff() is None
            assert open_run() is None, "a run is left open after the session ended"
            assert wandb_env() == self.expected_env
            assert FakeIntegration.prepared == 0
            return
        assert active_session() is self.s
        run = open_run()
        if self.h is not None:
            assert self.s.phase is Phase.HANDOFF and active_handoff() is self.h
            if self.holding:
                assert run is not None and run.id == self.run_id, run
            else:
                assert run is None, f"the run was handed off, yet {run} is open in the parent"
            return
        assert self.s.phase in (Phase.PRE, Phase.POST), self.s.phase
        assert active_handoff() is None and FakeIntegration.prepared == 0
        assert HANDOFF_ENV_VAR not in os.environ
        if self.lost:
            assert run is None, f"the run was not taken back, yet {run} is open"
        else:
            assert run is not None and run.id == self.run_id and self.s.run is run, (run, self.run_id)

    def teardown(self) -> None:
        for fault in self.faults.fired:
            STATS[f"fired {fault.when} {fault.point} ({fault.kind})"] += 1
        self.faults.disarm()
        if self.h is not None:
            assert self._exit_handoff(None) is None
        if self.s is not None:
            assert self._exit_session(None) is None
            self._session_over()
        self.registry_env_and_runs_are_consistent()
        os.environ.pop(USER_VARIABLE, None)
        if BRIDGE_VARIABLE in self.env_before:
            os.environ[BRIDGE_VARIABLE] = self.env_before[BRIDGE_VARIABLE]
        else:
            os.environ.pop(BRIDGE_VARIABLE, None)


def _run(backend: Backend, monkeypatch: pytest.MonkeyPatch, examples: int) -> None:
    _, _, steps, derandomize = _profile()
    monkeypatch.setattr(handoff, "find", lambda model: FAKE if FAKE.matches(model) else None)
    monkeypatch.delenv(USER_VARIABLE, raising=False)
    monkeypatch.delenv(BRIDGE_VARIABLE, raising=False)
    Program.backend = backend
    Program.baseline_env = wandb_env()
    Program.faults = SdkFaults.install(monkeypatch)
    STATS.clear()
    budget = settings(max_examples=examples, stateful_step_count=steps, derandomize=derandomize, **_COMMON)
    try:
        run_state_machine_as_test(Program, settings=budget)
    finally:
        _report(backend.name)


def _report(name: str) -> None:
    counts = dict(sorted(STATS.items()))
    print(f"\nproperties ({name}): {json.dumps(counts)}")
    target = os.environ.get(REPORT_ENV)
    if target:
        path = Path(target)
        report = json.loads(path.read_text()) if path.exists() else {}
        report[name] = {"profile": os.environ.get(PROFILE_ENV, "ci"), **counts}
        path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def test_any_program_keeps_the_invariants_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = Backend("offline", {"mode": "offline", "dir": str(tmp_path), "resume_grace_seconds": 5})
    _run(backend, monkeypatch, _profile()[0])


def test_any_program_keeps_the_invariants_on_the_server(
    wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = Backend("server", {"dir": str(tmp_path), "resume_grace_seconds": 5}, server=wandb_server)
    _run(backend, monkeypatch, _profile()[1])
