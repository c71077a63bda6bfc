"""The model half of the property test's state machine (``test_properties.py`` holds the rules and invariants).

``ProgramModel`` keeps what the drawn program did (its session and handoff, whether it failed, whether a fault
lost the run, the writes the API accepted) and the checks that follow from that alone: which exception a step
may raise, what leaving a block propagates, how a session must have ended, and (against the local server)
what the server must have recorded. It never reads the library's own state to decide what must hold.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from fake_integration import FakeIntegration
from hypothesis.stateful import RuleBasedStateMachine
from sdk_faults import SdkFaults
from support import open_run, wandb_env

from wandb_ddp_bridge import BackendError, PhaseError, handoff, registry, wandb_session
from wandb_ddp_bridge.phases import Phase
from wandb_ddp_bridge.session import Session

__all__ = ["STATS", "Backend", "ProgramModel"]


@dataclass
class Backend:
    name: str
    kwargs: dict[str, Any]
    server: Any = None


STATS: Counter[str] = Counter()


def _isolate(baseline: dict[str, str]) -> None:
    """Whatever an earlier example left behind (only possible after a failure): gone."""
    registry.forget("run owner")  # the session and its handoff
    run = open_run()
    if run is not None:
        run.finish()
    for name in [n for n in os.environ if n.startswith("WANDB_") and n not in baseline]:
        del os.environ[name]
    os.environ.update(baseline)


class ProgramModel(RuleBasedStateMachine):
    """A drawn program's state as the model sees it; the rules that play it are in ``test_properties``."""

    backend: ClassVar[Backend]
    faults: ClassVar[SdkFaults]
    baseline_env: ClassVar[dict[str, str]]

    def __init__(self) -> None:
        super().__init__()
        _isolate(self.baseline_env)  # a failed (or shrunk) example must not leak into the next one
        self.faults.reset()
        FakeIntegration.prepared = 0
        registry.forget("attached run")
        self.env_before = wandb_env()
        self.expected_env = dict(self.env_before)
        self.s: Session | None = None
        self.h: handoff.Handoff | None = None
        self.ended: Session | None = None
        self.ended_before_entering = False
        self.fast_path = "auto"
        self.failed = False
        self.finish_mark = 0
        self.counter = 0
        # the model: what the program did, from which the checks follow (never the library's own state)
        self.run_id: str | None = None  # the session's run, once created
        self.lost = False  # a fault stopped the parent taking its run back after training
        self.holding = False  # the parent keeps its run open during the handoff (fast path, not released)
        self.accepted: dict[str, str] = {}  # key -> "history" | "summary": writes the API accepted
        STATS["examples"] += 1

    # ----------------------------------------------------------------------------------- helpers
    def _new_project(self) -> str:
        STATS["sessions"] += 1
        return f"prop-{STATS['sessions']}"

    def _call(self, fn: Any, *args: Any) -> BaseException | None:
        STATS["steps"] += 1
        try:
            fn(*args)
        except BaseException as error:  # KeyboardInterrupt included: it is what the program is about
            return error
        return None

    def _fired_since(self, mark: int) -> list[BaseException]:
        return [fault.exc for fault in self.faults.fired[mark:]]

    def _check_raised(
        self, raised: BaseException | None, primary: BaseException | None, mark: int, misuse: bool = False
    ) -> None:
        """``raised`` is what the step's exception should be: the primary one, else a fault of this step."""
        if primary is not None:
            assert raised is primary, f"{raised!r} replaced {primary!r}"
            return
        if raised is None:
            return
        if misuse and isinstance(raised, PhaseError):
            return
        if self.lost and isinstance(raised, BackendError):
            assert "could not be resumed after training" in str(raised)
            return  # the run could not be taken back: post-phase calls say so instead of logging into nothing
        fired = self._fired_since(mark)
        assert any(raised is exc for exc in fired), f"unexpected {type(raised).__name__}: {raised} (fired {fired})"
        STATS[f"fault surfaced: {type(raised).__name__}"] += 1

    def _exit_handoff(self, exc: BaseException | None) -> BaseException | None:
        """Leave the ``with s.handoff():`` block with ``exc``: what propagates from it (``with`` semantics)."""
        h, self.h = self.h, None
        assert h is not None
        self.holding = False
        with self._taking_back():
            try:
                h.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
            except BaseException as error:
                return error
        return exc

    def _exit_session(self, exc: BaseException | None) -> BaseException | None:
        s = self.s
        assert s is not None
        with self._taking_back():  # a handoff left open: the session takes the run back itself
            try:
                s.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
            except BaseException as error:
                return error
        return exc

    @contextmanager
    def _taking_back(self) -> Iterator[None]:
        """The model's rule for a lost run: a fault before the parent's own resume (the run is not taken
        back; after it, the resumed run is recovered). The training child's resume (attach) is in ``train``."""
        mark = len(self.faults.fired)
        try:
            yield
        finally:
            if any((f.point, f.when) == ("resume", "before") for f in self.faults.fired[mark:]):
                self.lost = True

    def _propagate(self, exc: BaseException) -> None:
        """An exception leaves the program's innermost block and every enclosing one (nobody catches it)."""
        raised = self._exit_handoff(exc) if self.h is not None else exc
        assert raised is exc, f"{raised!r} replaced {exc!r} at the handoff"
        raised = self._exit_session(exc)
        assert raised is exc, f"{raised!r} replaced {exc!r} at the session"
        self.failed = True
        self._session_over()

    def _session_over(self, entered: bool = True) -> None:
        s = self.s
        assert s is not None
        self.s, self.ended, self.ended_before_entering = None, s, not entered
        assert s.phase is (Phase.FINISHED if entered else Phase.NEW), s.phase
        finished = self.faults.finished[self.finish_mark :]
        assert len({id(f.run) for f in finished}) == len(finished), f"a run object finished twice: {finished}"
        own = [f for f in finished if s.id is not None and f.run_id == s.id]
        if own and not self.lost:
            last = own[-1].exit_code
            assert (last != 0) == self.failed, f"the run ended with {last} but failed={self.failed}"
        if self.backend.server is not None and s.id is not None:
            self._check_server(s)
        STATS["sessions failed" if self.failed else "sessions clean"] += 1

    def _check_server(self, s: Session) -> None:
        [run] = [r for r in self.backend.server.runs() if r.id == s.id]
        assert run.created_count == 1 and not run.overlapping, run.sessions
        assert all(x.complete for x in run.sessions), run.sessions
        if not self.lost:
            assert (run.sessions[-1].exit_code != 0) == self.failed, (run.sessions, self.failed)
            assert run.state == ("failed" if self.failed else "finished"), run.state
        # the data invariant: every write the API accepted is on the server, once
        history_keys = [key for row in run.history for key in row]
        for key, where in self.accepted.items():
            if where == "history":
                assert history_keys.count(key) == 1, f"logged {key!r}: {history_keys.count(key)} rows on the server"
            else:
                assert run.summary.get(key) == 1, f"summary[{key!r}] accepted, on the server: {run.summary}"

    def _start(self, fast_path: str) -> None:
        self.fast_path = fast_path
        s = wandb_session(project=self._new_project(), fast_path=fast_path, **self.backend.kwargs)
        self.s, self.failed, self.finish_mark = s, False, len(self.faults.finished)
        self.expected_env = wandb_env()  # as it is when this session starts
        self._enter(s)

    def _enter(self, s: Session) -> BaseException | None:
        self.lost, self.holding, self.accepted = False, False, {}
        mark = len(self.faults.fired)
        raised = self._call(s.__enter__)
        self._check_raised(raised, None, mark)
        if raised is not None:
            self.failed = True
            self._session_over(entered=False)
        else:
            self.run_id = s.id
        return raised

    def _landed_after_the_last_finish(self, raised: BaseException) -> bool:
        """An interruption right after the run's final finish: the run had ended, with 0, before it came."""
        fault = next((f for f in self.faults.fired if f.exc is raised), None)
        return fault is not None and (fault.point, fault.when) == ("finish", "after") and not self.failed
