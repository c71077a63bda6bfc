"""One run for the whole life of a job: sessions that name their run continue it (issue 14), on the local server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.errors import ConfigError
from wandb_ddp_bridge.restarts import ATTEMPTS_KEY, write_run_record
from wandb_ddp_bridge.signals import Terminated


def _attempt(run_id: str | None, cfg: dict[str, Any], *, preempted: bool = False, **settings: Any) -> str:
    with pytest.raises(Terminated) if preempted else _nothing():  # noqa: SIM117
        with wandb_session(project="restarts", run_id=run_id, **settings) as s:
            s.save_config(cfg, artifact=False)
            s.log({"pre/rows": 1.0})
            run_id = s.id
            if preempted:
                raise Terminated()
    assert run_id is not None
    return run_id


class _nothing:
    def __enter__(self) -> None: ...

    def __exit__(self, *exc: object) -> None: ...


def test_a_named_run_is_created_once_and_continued_by_the_next_attempt(
    wandb_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = _attempt("job-42", {"lr": 0.01, "batch": 16}, preempted=True)
    record = wandb_server.run(f"{wandb_server.entity}/restarts/job-42")
    assert record.state in ("crashed", "failed") and record.exit_code == 143
    with caplog.at_level(logging.WARNING, logger="wandb_ddp_bridge"):
        second = _attempt("job-42", {"lr": 0.02, "batch": 16, "epochs": 3})
    assert first == second == "job-42"
    assert "continuing run job-42 (attempt 2" in caplog.text
    (run,) = wandb_server.runs(project="restarts")
    assert (run.created_count, run.resumed_count) == (1, 1)
    assert run.state == "finished" and run.exit_code == 0  # the last attempt decides the run's state
    assert run.config["config"] == {"lr": 0.01, "batch": 16}  # attempt 1's values kept
    assert run.config["bridge_attempt_2"] == {"config": {"lr": 0.02, "batch": 16, "epochs": 3}}
    attempts = run.summary[ATTEMPTS_KEY]
    assert [(a["attempt"], a["outcome"], a["exit_code"]) for a in attempts] == [
        (1, "preempted", 143),
        (2, "finished", 0),
    ]
    assert [row["pre/rows"] for row in run.history] == [1.0, 1.0]
    assert run.history[1]["_step"] > run.history[0]["_step"]


def test_auto_ids_follow_the_slurm_job_across_a_requeue(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "777")
    monkeypatch.setenv("WANDB_RUN_ID", "stale-from-another-job")  # never read
    first = _attempt("auto", {"a": 1}, preempted=True)
    second = _attempt("auto", {"a": 1})
    assert first == second and first.startswith("slurm-")
    (run,) = wandb_server.runs(project="restarts")
    assert run.id == first and (run.created_count, run.resumed_count) == (1, 1)
    monkeypatch.setenv("SLURM_JOB_ID", "778")
    assert _attempt("auto", {"a": 1}) != first  # another job, another run


def test_the_same_id_in_another_project_is_a_different_run_and_is_said_so(
    wandb_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _attempt("job-1", {"a": 1})
    with (
        caplog.at_level(logging.WARNING, logger="wandb_ddp_bridge"),
        wandb_session(project="elsewhere", run_id="job-1") as s,
    ):
        s.log({"x": 1.0})
    assert "no run with this id existed in this project" in caplog.text
    assert {r.project for r in wandb_server.runs()} == {"restarts", "elsewhere"}


def test_resume_from_a_checkpoint_continues_the_run_recorded_next_to_it(wandb_server: Any, tmp_path: Path) -> None:
    run_id = _attempt(None, {"a": 1})
    weights = tmp_path / "train" / "weights"
    weights.mkdir(parents=True)
    (weights / "last.pt").write_bytes(b"checkpoint")
    write_run_record(tmp_path / "train", run_id=run_id, project="restarts", entity=wandb_server.entity)
    assert _attempt(None, {"a": 1}, resume_from=str(weights / "last.pt")) == run_id
    (run,) = wandb_server.runs(project="restarts")
    assert (run.created_count, run.resumed_count) == (1, 1)
    with pytest.raises(ConfigError, match=r"conflicts with run .* recorded next to resume_from"):
        _attempt("other-id", {"a": 1}, resume_from=str(weights / "last.pt"))
    elsewhere = wandb_session(project="elsewhere", resume_from=str(weights / "last.pt"))
    with pytest.raises(ConfigError, match="a run id in another project is a different run"), elsewhere:
        pass


@pytest.mark.parametrize(("bad", "rule"), [("has space", "may not contain"), ("", "is empty")])
def test_an_invalid_run_id_is_refused_before_anything_starts(bad: str, rule: str) -> None:
    with pytest.raises(ConfigError, match=rule):
        wandb_session(project="p", run_id=bad)


def test_auto_without_a_scheduler_says_what_to_set(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="job_identity_env"):
        wandb_session(project="p", run_id="auto").__enter__()
    assert wandb_server.runs() == []
