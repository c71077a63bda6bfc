"""A training that ``h.train()`` refuses before it begins leaves no empty failed run behind (issue 24).

The session creates its run when its block starts; ``h.train(resume=True)`` can only be refused later. A run
this attempt created and the caller never wrote to or held is deleted again once it is finished (the server
records the ``deleteRun``); a run holding anything of the caller's, and a continued run, are kept, failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import ul_rig
from support import deleted_runs
from ultralytics import YOLO

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.errors import ConfigError, TrainingRefused
from wandb_ddp_bridge.restarts import RUN_RECORD_NAME


def _refused_resume(data: Path, **session: Any) -> tuple[pytest.ExceptionInfo[TrainingRefused], str | None]:
    """``h.train(resume=True)`` with no checkpoint anywhere; the refusal and the session's run id."""
    with pytest.raises(TrainingRefused) as refused, wandb_session(project="refused", **session) as s:
        run_id = s.id
        with s.handoff(YOLO("yolov8n.yaml")) as h:
            h.train(resume=True, data=str(data), device="cpu")
    return refused, run_id


@pytest.mark.parametrize("fast_path", ["auto", "never"])
def test_a_refused_resume_deletes_the_empty_run_it_created(wandb_server: Any, tmp_path: Path, fast_path: str) -> None:
    refused, run_id = _refused_resume(ul_rig.make_dataset(tmp_path / "data"), checkpoints="wandb", fast_path=fast_path)
    assert isinstance(refused.value, ConfigError)  # what callers catch today still catches it
    assert run_id is not None and deleted_runs(wandb_server) == [f"{wandb_server.entity}/refused/{run_id}"]
    assert wandb_server.runs(project="refused") == [], "the created run is gone from the project"
    assert any("was deleted again" in note for note in getattr(refused.value, "__notes__", []))


def test_a_run_the_caller_wrote_to_is_kept_and_ends_failed(wandb_server: Any, tmp_path: Path) -> None:
    data = ul_rig.make_dataset(tmp_path / "data")
    with pytest.raises(TrainingRefused), wandb_session(project="refused", checkpoints="wandb") as s:
        s.save_config({"lr": 0.01}, artifact=False)
        with s.handoff(YOLO("yolov8n.yaml")) as h:
            h.train(resume=True, data=str(data), device="cpu")
    assert deleted_runs(wandb_server) == []
    (run,) = wandb_server.runs(project="refused")
    assert run.config["config"] == {"lr": 0.01}
    assert run.state == "failed" and run.exit_code == 1
    assert run.summary["bridge_failure"].startswith("TrainingRefused: h.train(resume=True)")


def test_a_run_held_through_s_run_is_kept(wandb_server: Any, tmp_path: Path) -> None:
    data = ul_rig.make_dataset(tmp_path / "data")
    with pytest.raises(TrainingRefused), wandb_session(project="refused", checkpoints="wandb") as s:
        s.run.log({"written/by_hand": 1})  # type: ignore[union-attr]  # the bridge cannot see what this wrote
        with s.handoff(YOLO("yolov8n.yaml")) as h:
            h.train(resume=True, data=str(data), device="cpu")
    assert deleted_runs(wandb_server) == []
    (run,) = wandb_server.runs(project="refused")
    assert any("written/by_hand" in row for row in run.history)


def test_a_continued_run_is_neverdeleted_runs(wandb_server: Any, tmp_path: Path) -> None:
    with wandb_session(project="refused", run_id="job-x") as s:
        s.log({"pre/value": 1})
    _refused_resume(ul_rig.make_dataset(tmp_path / "data"), run_id="job-x", checkpoints="wandb")
    assert deleted_runs(wandb_server) == []
    (run,) = wandb_server.runs(project="refused")
    assert run.id == "job-x" and (run.created_count, run.resumed_count) == (1, 1)
    assert any(row.get("pre/value") == 1 for row in run.history), "the first attempt's data stays"


@pytest.mark.slow
def test_resuming_another_runs_last_pt_without_a_run_id_leaves_only_that_run(wandb_server: Any, tmp_path: Path) -> None:
    """The case users meet: ``resume=True`` from a ``last.pt`` of an earlier run, but no ``run_id=``."""
    data = ul_rig.make_dataset(tmp_path / "data")
    with wandb_session(project="refused", run_id="job-a") as s, s.handoff(YOLO("yolov8n.yaml")) as h:
        h.train(**ul_rig.train_kwargs(data, tmp_path / "runs", epochs=1, device="cpu"))
    save_dir = tmp_path / "runs" / "train"
    assert (save_dir / RUN_RECORD_NAME).is_file()
    with (
        pytest.raises(TrainingRefused, match=r"belongs to run .*job-a"),
        wandb_session(project="refused") as s,
        s.handoff(YOLO(str(save_dir / "weights" / "last.pt"))) as h,
    ):
        h.train(resume=True, device="cpu")
    assert [run.id for run in wandb_server.runs(project="refused")] == ["job-a"]
    (deleted,) = deleted_runs(wandb_server)
    assert not deleted.endswith("/job-a")
