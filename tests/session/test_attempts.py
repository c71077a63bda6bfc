"""The attempt bookkeeping the session writes at each transition: exit codes, outcomes, markers, attempt records."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from wandb_ddp_bridge.attempts import AttemptLog, exit_code_for, failed_code, outcome_of
from wandb_ddp_bridge.phases import FAILED_KEY, FAILURE_KEY, MARKERS_KEY, marker
from wandb_ddp_bridge.restarts import ATTEMPTS_KEY
from wandb_ddp_bridge.run_ids import RunIdentity
from wandb_ddp_bridge.signals import Terminated


@pytest.mark.parametrize(
    ("exc", "code", "outcome"),
    [
        (None, 0, "finished"),
        (SystemExit(None), 0, "finished"),
        (SystemExit(3), 3, "failed"),
        (SystemExit("bye"), 1, "failed"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("boom"), 1, "failed"),
    ],
)
def test_an_ending_exception_gives_the_exit_code_and_outcome_a_process_would(
    exc: BaseException | None, code: int, outcome: str
) -> None:
    assert exit_code_for(exc) == code
    assert outcome_of(exc, code) == outcome


def test_a_terminating_signal_is_recorded_as_preempted() -> None:
    exc = Terminated(15)
    assert exit_code_for(exc) > 128
    assert outcome_of(exc, exit_code_for(exc)) == "preempted"


def test_cleanup_errors_make_a_clean_ending_fail() -> None:
    assert failed_code([]) == 0
    assert failed_code([RuntimeError("finish failed")]) == 1
    assert failed_code([SystemExit(0)]) == 1  # an error happened: never 0
    assert failed_code([KeyboardInterrupt()]) == 130


def test_an_ending_marker_records_the_phase_duration() -> None:
    """The real clock, bracketed: each marker lies between the instants around its own call, and the duration
    is the difference of the two markers the log wrote (nothing here is a value the test fed in)."""
    log = AttemptLog()
    before_begin = time.time()
    log.begin(SimpleNamespace(id="r1", resumed=False), None, "p")
    log.mark(marker("pre", 0, "start"))
    after_start = time.time()
    time.sleep(0.05)
    before_end = time.time()
    values = log.mark(marker("pre", 0, "end"), marker("training", 1, "start"))
    after_end = time.time()
    markers = values[MARKERS_KEY]
    started, ended = markers[marker("pre", 0, "start")], markers[marker("pre", 0, "end")]
    assert before_begin <= started <= after_start and before_end <= ended <= after_end, (markers, before_end)
    assert markers[marker("training", 1, "start")] == ended  # one transition, one instant
    assert markers["pre_seconds"] == round(ended - started, 3) and markers["pre_seconds"] > 0
    [attempt] = values[ATTEMPTS_KEY]
    assert attempt["attempt"] == 1 and before_begin <= attempt["started"] <= started
    assert attempt["phases"] == markers
    assert FAILED_KEY not in values


def test_a_failure_is_marked_with_its_type_and_a_bounded_message() -> None:
    values = AttemptLog().mark(marker("post", 1, "end"), failure=ValueError("x" * 5000))
    assert values[FAILED_KEY] is True
    assert values[FAILURE_KEY].startswith("ValueError: xxx") and len(values[FAILURE_KEY]) == 1000


def test_a_continued_run_numbers_its_attempt_after_the_recorded_ones_and_keeps_them() -> None:
    earlier = [{"attempt": 1, "outcome": "preempted"}, {"attempt": 2, "outcome": "preempted"}]
    run = SimpleNamespace(id="job-7", resumed=True, summary={ATTEMPTS_KEY: earlier})
    log = AttemptLog()
    log.begin(run, RunIdentity(run_id="job-7", source="Slurm job"), "p")
    log.end(0, "finished")
    attempts = log.mark(marker("post", 1, "end"))[ATTEMPTS_KEY]
    assert log.number == 3
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert attempts[:2] == earlier
    assert attempts[2]["outcome"] == "finished" and attempts[2]["exit_code"] == 0


def test_a_new_run_with_a_chosen_id_is_attempt_one() -> None:
    log = AttemptLog()
    log.begin(SimpleNamespace(id="job-7", resumed=False, summary={}), RunIdentity("job-7", "run_id argument"), "p")
    assert log.number == 1


@pytest.mark.parametrize(("assigned", "level"), [(False, "WARNING"), (True, "DEBUG")])
def test_creating_a_chosen_id_is_news_but_a_sweep_trial_creating_its_run_is_not(
    caplog: pytest.LogCaptureFixture, assigned: bool, level: str
) -> None:
    caplog.set_level("DEBUG", logger="wandb_ddp_bridge")
    identity = RunIdentity("trial-1", "W&B sweep s1's agent", assigned=assigned)
    AttemptLog().begin(SimpleNamespace(id="trial-1", resumed=False, summary={}), identity, "p")
    (created,) = [r for r in caplog.records if "created run trial-1 " in r.getMessage()]
    assert created.levelname == level


def test_reset_forgets_the_markers_of_a_failed_start() -> None:
    log = AttemptLog()
    log.mark(marker("pre", 0, "start"))
    log.reset()
    assert log.mark()[MARKERS_KEY] == {}
