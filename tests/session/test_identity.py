"""Identity: what the user passes beats the environment (issue 20, item 6), judged by the local server's records.

A shell or batch job that still exports an earlier job's ``WANDB_*`` variables must not rename the run, move it to
another group, or make two jobs write into one run."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import wandb

from wandb_ddp_bridge import wandb_session

STALE_IDENTITY = {
    "WANDB_NAME": "stale-name",
    "WANDB_RUN_GROUP": "stale-group",
    "WANDB_JOB_TYPE": "stale-job-type",
    "WANDB_TAGS": "stale-a,stale-b",
    "WANDB_NOTES": "stale notes",
}
EXPLICIT = {"name": "mine", "group": "my-group", "job_type": "my-job", "tags": ["mine"], "notes": "my notes"}

CHILD = textwrap.dedent(
    """
    import json
    import wandb_ddp_bridge as bridge
    run = bridge.attach()
    run.log({"child/loss": 0.5})
    bridge.detach()
    print(json.dumps({"id": run.id}))
    """
)


def _recorded_identity(run: Any) -> dict[str, Any]:
    return {
        "name": run.display_name,
        "group": run.group,
        "job_type": run.job_type,
        "tags": run.tags,
        "notes": run.notes,
    }


@pytest.mark.parametrize("fast_path", ["auto", "never"])
def test_stale_identity_variables_change_nothing(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch, fast_path: str
) -> None:
    for name, value in STALE_IDENTITY.items():
        monkeypatch.setenv(name, value)
    with wandb_session(project="identity", fast_path=fast_path, **EXPLICIT) as s:
        s.log({"pre/x": 1.0})
        with s.handoff():
            pass  # the run is finished and resumed around the handoff: the resume must not rename it
        s.log({"post/x": 1.0})
    (run,) = wandb_server.runs(project="identity")
    assert run.resumed_count >= 1 and run.state == "finished"
    assert _recorded_identity(run) == EXPLICIT
    assert all(os.environ[name] == value for name, value in STALE_IDENTITY.items())  # the user's env, untouched


def test_a_child_resuming_the_handed_off_run_keeps_the_explicit_identity(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in STALE_IDENTITY.items():
        monkeypatch.setenv(name, value)
    with wandb_session(project="identity", fast_path="never", **EXPLICIT) as s, s.handoff():
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        child_id = json.loads(done.stdout.strip().splitlines()[-1])["id"]
    (run,) = wandb_server.runs(project="identity")
    assert run.id == child_id and [row["child/loss"] for row in run.history if "child/loss" in row] == [0.5]
    assert _recorded_identity(run) == EXPLICIT


def test_without_explicit_values_the_environment_is_the_fallback(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in STALE_IDENTITY.items():
        monkeypatch.setenv(name, value)
    with wandb_session(project="identity", fast_path="never") as s, s.handoff():
        pass
    (run,) = wandb_server.runs(project="identity")
    assert _recorded_identity(run) == {
        "name": "stale-name",
        "group": "stale-group",
        "job_type": "stale-job-type",
        "tags": ["stale-a", "stale-b"],
        "notes": "stale notes",
    }


def test_two_jobs_with_the_same_stale_run_id_get_two_runs(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WANDB_RUN_ID", "left-over-id")
    ids = []
    for job in (1, 2):
        caplog.clear()
        with (
            caplog.at_level(logging.WARNING, logger="wandb_ddp_bridge"),
            wandb_session(project="stale-id", name=f"job-{job}") as s,
        ):
            s.log({"job": float(job)})
            ids.append(s.id)
        warnings = [r.getMessage() for r in caplog.records if "WANDB_RUN_ID" in r.getMessage()]
        assert len(warnings) == 1 and "'left-over-id'" in warnings[0], caplog.text
        assert os.environ["WANDB_RUN_ID"] == "left-over-id"  # hidden from wandb only while the run was created
    runs = {run.id: run for run in wandb_server.runs(project="stale-id")}
    assert len(runs) == 2 and "left-over-id" not in runs and set(runs) == set(ids)
    assert sorted(run.display_name for run in runs.values()) == ["job-1", "job-2"]
    assert all(run.created_count == 1 and run.resumed_count == 0 for run in runs.values())
    assert sorted(row["job"] for run in runs.values() for row in run.history) == [1.0, 2.0]


def test_a_stale_resume_must_does_not_stop_a_new_session(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WANDB_RESUME", "must")
    with caplog.at_level(logging.WARNING, logger="wandb_ddp_bridge"), wandb_session(project="stale-resume") as s:
        s.log({"x": 1.0})
    (run,) = wandb_server.runs(project="stale-resume")
    assert run.state == "finished" and run.created_count == 1 and [row["x"] for row in run.history] == [1.0]
    assert "WANDB_RESUME='must'" in caplog.text and "refuse to create a new run" in caplog.text
    assert os.environ["WANDB_RESUME"] == "must"


def test_an_explicit_run_id_wins_over_a_stale_one(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WANDB_RUN_ID", "left-over-id")
    monkeypatch.setenv("WANDB_RESUME", "must")
    with (
        caplog.at_level(logging.WARNING, logger="wandb_ddp_bridge"),
        wandb_session(project="explicit-id", run_id="job-7") as s,
    ):
        s.log({"x": 1.0})
    (run,) = wandb_server.runs(project="explicit-id")
    assert run.id == "job-7" and run.created_count == 1
    (warning,) = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "ignoring" in r.getMessage()
    ]
    assert "WANDB_RUN_ID='left-over-id'" in warning and "WANDB_RESUME='must'" in warning


def test_a_sweep_agents_assigned_run_is_adopted(
    wandb_server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WANDB_SWEEP_ID", "sweep-1")
    monkeypatch.setenv("WANDB_RUN_ID", "assigned-run")
    monkeypatch.setenv("WANDB_PROJECT", "sweeping")  # the agent exports the sweep's project too
    try:
        with caplog.at_level(logging.DEBUG, logger="wandb_ddp_bridge"), wandb_session(project="sweeping") as s:
            s.log({"x": 1.0})
            assert s.id == "assigned-run"
    finally:
        wandb.teardown()  # wandb keeps the sweep settings it read at setup for the life of the process
    assert "the sweep agent assigned run assigned-run" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "WANDB_RUN_ID" in r.getMessage()]
    (run,) = wandb_server.runs()
    assert run.id == "assigned-run" and [row["x"] for row in run.history] == [1.0]
