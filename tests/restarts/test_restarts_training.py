"""A preempted Ultralytics training and its resumed attempt land in ONE run (issue 14), real training on CPU.

Attempt 1 trains 3 epochs and is preempted (SIGTERM) after epoch 2 has been logged and saved; attempt 2, a new
session, resumes ``last.pt`` with ``h.train(resume=True)``. The run must be created once, hold epochs 1..3
exactly once and in order, keep attempt 1's PRE config, end with attempt 2's POST row and exit code 0.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import ul_checks
import ul_rig
from support import preempt_after_epoch
from ultralytics import YOLO

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.errors import ConfigError
from wandb_ddp_bridge.preemption import Preempted
from wandb_ddp_bridge.restarts import ATTEMPTS_KEY, RUN_RECORD_NAME

pytestmark = pytest.mark.slow


def _first_attempt(tmp_path: Path, **session: Any) -> Path:
    data = ul_rig.make_dataset(tmp_path / "data")
    model = YOLO("yolov8n.yaml")
    model.add_callback("on_fit_epoch_end", preempt_after_epoch(2))
    with pytest.raises(Preempted) as preempted, wandb_session(project="restarts", **session) as s:
        s.save_config({"lr": 0.01, "attempt": "first"}, artifact=False)
        with s.handoff(model) as h:
            h.train(**ul_rig.train_kwargs(data, tmp_path / "runs", epochs=3, device="cpu"))
    assert preempted.value.code == 128 + signal.SIGTERM
    save_dir = tmp_path / "runs" / "train"
    assert (save_dir / RUN_RECORD_NAME).is_file()  # the run id kept next to the checkpoint
    return save_dir / "weights" / "last.pt"


def _second_attempt(last: Path, **session: Any) -> str:
    with wandb_session(project="restarts", **session) as s:
        s.save_config({"lr": 0.02, "attempt": "second"}, artifact=False)
        with s.handoff(YOLO(str(last))) as h:
            h.train(resume=True, device="cpu")
        s.log({"post/final": 1.0})
        assert s.id is not None
        return s.id


def _assert_one_run_with_every_epoch_once(server: Any) -> None:
    (run,) = server.runs(project="restarts")
    assert (run.created_count, run.resumed_count) == (1, 1), "one run, created once, continued once"
    assert run.state == "finished" and run.exit_code == 0
    rows = ul_checks.training_rows(run)
    assert [row["epoch"] for row in rows] == [1, 2, 3], run.history
    steps = [row["_step"] for row in run.history]
    assert steps == sorted(set(steps)), "history stays monotonic"
    assert "post/final" in run.history[-1]
    assert run.config["config"] == {"lr": 0.01, "attempt": "first"}
    assert run.config["bridge_attempt_2"]["config"]["attempt"] == "second"
    outcomes = [(a["attempt"], a["outcome"]) for a in run.summary[ATTEMPTS_KEY]]
    assert outcomes == [(1, "preempted"), (2, "finished")]
    assert any(session.preempting for session in run.sessions), "the run was marked preempting"
    from wandb_ddp_bridge.tools.verify import Expectations, check_run, from_server

    report = check_run(from_server(run.path, server), Expectations(epochs=3))
    assert report.passed, report.table()  # verify accepts a run continued across attempts


def test_an_explicit_run_id_keeps_a_preempted_training_and_its_resume_in_one_run(
    wandb_server: Any, tmp_path: Path
) -> None:
    last = _first_attempt(tmp_path, run_id="yolo-job-1")
    assert _second_attempt(last, run_id="yolo-job-1") == "yolo-job-1"
    _assert_one_run_with_every_epoch_once(wandb_server)


def test_auto_under_a_requeued_slurm_job(wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    last = _first_attempt(tmp_path, run_id="auto")
    _second_attempt(last, run_id="auto")
    _assert_one_run_with_every_epoch_once(wandb_server)


def test_the_run_is_found_from_the_checkpoint_without_a_run_id(wandb_server: Any, tmp_path: Path) -> None:
    last = _first_attempt(tmp_path)
    _second_attempt(last, resume_from=str(last))
    _assert_one_run_with_every_epoch_once(wandb_server)


def test_resuming_another_runs_checkpoint_names_both_runs(wandb_server: Any, tmp_path: Path) -> None:
    last = _first_attempt(tmp_path, run_id="job-a")
    with pytest.raises(ConfigError, match=r"belongs to run .*job-a.* but this session's run is .*job-b"):
        _second_attempt(last, run_id="job-b")
