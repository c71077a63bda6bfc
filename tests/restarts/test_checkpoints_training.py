"""Checkpoints travel with the run (issue 21), real training on CPU against the local server.

Attempt 1 trains 3 epochs with ``checkpoints="wandb"`` and is preempted after epoch 2; its save_dir is then
deleted and attempt 2 starts in a fresh working directory with the same run id and ``resume=True``: it must
fetch the run's ``latest`` checkpoint (a use the server records), train only epoch 3, and leave ONE finished
run with epochs 1..3 once each, the checkpoint versions pruned to ``checkpoint_keep`` plus ``best``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import ul_checks
import ul_rig
from support import preempt_after_epoch
from ultralytics import YOLO

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.artifacts.checkpoints import artifact_name
from wandb_ddp_bridge.errors import ConfigError
from wandb_ddp_bridge.integrations.ultralytics.checkpoints import ERRORS_KEY
from wandb_ddp_bridge.preemption import Preempted
from wandb_ddp_bridge.restarts import ATTEMPTS_KEY

pytestmark = pytest.mark.slow


def _checkpoints(server: Any, run_id: str) -> dict[str, Any]:
    """The run's checkpoint versions the server still holds, by ``epoch-<n>`` alias."""
    (run,) = [r for r in server.runs(project="ckpt") if r.id == run_id]
    found = [a for a in run.artifacts if a.name == artifact_name(run_id)]
    return {next(x for x in a.aliases if x.startswith("epoch-")): a for a in found}


def _preempted_attempt(
    tmp_path: Path, data: Path, *, after: int = 2, epochs: int = 3, last: Path | None = None, **session: Any
) -> Path:
    """Train (or resume ``last``) until preempted after epoch ``after``; the save_dir."""
    model = YOLO(str(last) if last else "yolov8n.yaml")
    model.add_callback("on_fit_epoch_end", preempt_after_epoch(after))
    train = (
        {"resume": True, "device": "cpu"}
        if last
        else ul_rig.train_kwargs(data, tmp_path / "runs", epochs=epochs, device="cpu")
    )
    with (
        pytest.raises(Preempted),
        wandb_session(project="ckpt", **{"checkpoints": "wandb", **session}) as s,
        s.handoff(model) as h,
    ):
        h.train(**train)
    return tmp_path / "runs" / "train"


def test_a_restart_without_save_dir_resumes_the_runs_checkpoint_and_trains_only_the_rest(
    wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ul_rig.make_dataset(tmp_path / "data")
    save_dir = _preempted_attempt(tmp_path, data, run_id="ckpt-job")
    versions = _checkpoints(wandb_server, "ckpt-job")
    assert set(versions) == {"epoch-1", "epoch-2"}
    assert "latest" in versions["epoch-2"].aliases, "preemption uploaded the newest last.pt"
    assert versions["epoch-2"].metadata["epoch"] == 2 and versions["epoch-2"].metadata["run_id"] == "ckpt-job"
    assert versions["epoch-2"].metadata["train_args"]["epochs"] == 3 and versions["epoch-2"].metadata["ultralytics"]

    shutil.rmtree(save_dir)  # the node is gone: a fresh working directory, no last.pt anywhere
    fresh = tmp_path / "node-2"
    fresh.mkdir()
    monkeypatch.chdir(fresh)
    first_epochs: list[int] = []
    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_epoch_start", lambda trainer: first_epochs.append(trainer.epoch + 1))
    with wandb_session(project="ckpt", run_id="ckpt-job", checkpoints="wandb") as s, s.handoff(model) as h:
        h.train(resume=True, data=str(data), device="cpu")
    assert first_epochs == [3], "only the epoch after the checkpoint is trained"

    (run,) = wandb_server.runs(project="ckpt")
    assert (run.created_count, run.resumed_count) == (1, 1) and run.state == "finished"
    assert [row["epoch"] for row in ul_checks.training_rows(run)] == [1, 2, 3]
    assert [a["outcome"] for a in run.summary[ATTEMPTS_KEY]] == ["preempted", "finished"]
    assert run.summary[ERRORS_KEY] == 0
    versions = _checkpoints(wandb_server, "ckpt-job")
    best = [epoch for epoch, art in versions.items() if "best" in art.aliases]
    assert set(versions) == {"epoch-2", "epoch-3", *best}, "checkpoint_keep=2 newest, plus best"
    assert "latest" in versions["epoch-3"].aliases
    assert run.path in versions["epoch-2"].used_by, "the restart's use of the checkpoint is in the lineage"


def test_a_restart_on_the_full_path_fetches_the_checkpoint_and_training_attaches_again(
    wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fast_path="never"``: the handoff closes the run, the fetch opens it for the download only, and the
    training attaches again; the use and the epochs still land in the one run."""
    data = ul_rig.make_dataset(tmp_path / "data")
    shutil.rmtree(_preempted_attempt(tmp_path, data, run_id="full-path", fast_path="never"))
    monkeypatch.chdir(tmp_path)
    first_epochs: list[int] = []
    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_epoch_start", lambda trainer: first_epochs.append(trainer.epoch + 1))
    with (
        wandb_session(project="ckpt", run_id="full-path", checkpoints="wandb", fast_path="never") as s,
        s.handoff(model) as h,
    ):
        h.train(resume=True, data=str(data), device="cpu")
    assert first_epochs == [3], "resumed from the run's epoch-2 checkpoint"

    (run,) = wandb_server.runs(project="ckpt")
    assert run.created_count == 1 and run.state == "finished"
    assert [row["epoch"] for row in ul_checks.training_rows(run)] == [1, 2, 3]
    assert [a["outcome"] for a in run.summary[ATTEMPTS_KEY]] == ["preempted", "finished"]
    versions = _checkpoints(wandb_server, "full-path")
    assert run.path in versions["epoch-2"].used_by, "the fetch's use_artifact is in the run's lineage"
    assert "latest" in versions["epoch-3"].aliases, "the re-attached training uploaded epoch 3"


def test_resume_with_neither_a_local_nor_a_run_checkpoint_says_what_to_do(wandb_server: Any, tmp_path: Path) -> None:
    data = ul_rig.make_dataset(tmp_path / "data")
    with (
        pytest.raises(ConfigError, match=r"no local last.pt .* holds no checkpoint"),
        wandb_session(project="ckpt", run_id="empty-job", checkpoints="wandb") as s,
        s.handoff(YOLO("yolov8n.yaml")) as h,
    ):
        h.train(resume=True, data=str(data), device="cpu")


def test_a_checkpoint_artifact_of_another_run_is_refused(wandb_server: Any, tmp_path: Path) -> None:
    import wandb

    weights = tmp_path / "last.pt"
    weights.write_bytes(b"not this run's")
    other = wandb.init(project="ckpt", id="intruder")
    art = wandb.Artifact(artifact_name("victim"), type="model", metadata={"run_id": "intruder", "epoch": 5})
    art.add_file(str(weights), name="last.pt")
    other.log_artifact(art).wait()
    other.finish()
    with (
        pytest.raises(ConfigError, match=r"belongs to run 'intruder', not to this run 'victim'"),
        wandb_session(project="ckpt", run_id="victim", checkpoints="wandb") as s,
        s.handoff(YOLO("yolov8n.yaml")) as h,
    ):
        h.train(resume=True, data=str(ul_rig.make_dataset(tmp_path / "data")), device="cpu")


def test_an_unknown_scheme_names_the_setting_and_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"checkpoints='gs://b/p' .* use checkpoints='wandb' .*checkpoints='s3://"):
        wandb_session(project="ckpt", checkpoints="gs://b/p")


def test_a_ddp_restart_resumes_the_runs_checkpoint_and_rank_zero_uploads_the_next(
    wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ul_rig.make_dataset(tmp_path / "data")
    shutil.rmtree(_preempted_attempt(tmp_path, data, run_id="ddp-job"))
    rig = str(Path(ul_rig.__file__).parent)  # DDP workers rebuild the rig's trainer from its module
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (rig, os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    monkeypatch.chdir(tmp_path)
    with (
        wandb_session(project="ckpt", run_id="ddp-job", checkpoints="wandb") as s,
        s.handoff(YOLO("yolov8n.yaml")) as h,
    ):
        h.train(resume=True, data=str(data), device="cpu", trainer=ul_rig.CPUDDPDetectionTrainer)

    (run,) = wandb_server.runs(project="ckpt")
    assert run.state == "finished" and [row["epoch"] for row in ul_checks.training_rows(run)] == [1, 2, 3]
    versions = _checkpoints(wandb_server, "ddp-job")
    assert "latest" in versions["epoch-3"].aliases, "the rank-0 worker uploaded epoch 3"
    assert run.path in versions["epoch-2"].used_by


def test_preemption_uploads_the_newest_last_pt_even_between_checkpointed_epochs(
    wandb_server: Any, tmp_path: Path
) -> None:
    data = ul_rig.make_dataset(tmp_path / "data")
    _preempted_attempt(tmp_path, data, after=3, epochs=4, run_id="every-2", checkpoint_every=2)
    versions = _checkpoints(wandb_server, "every-2")
    assert set(versions) == {"epoch-2", "epoch-3"}, "epoch 2 by checkpoint_every, epoch 3 by the preemption"
    assert "latest" in versions["epoch-3"].aliases


def test_a_newer_local_last_pt_wins_over_the_runs_checkpoint(wandb_server: Any, tmp_path: Path) -> None:
    data = ul_rig.make_dataset(tmp_path / "data")
    save_dir = _preempted_attempt(tmp_path, data, after=2, epochs=4, run_id="local-wins")
    last = save_dir / "weights" / "last.pt"
    _preempted_attempt(tmp_path, data, after=3, last=last, run_id="local-wins", checkpoints=None)  # not uploaded
    assert set(_checkpoints(wandb_server, "local-wins")) == {"epoch-1", "epoch-2"}
    first_epochs: list[int] = []
    model = YOLO(str(last))
    model.add_callback("on_train_epoch_start", lambda trainer: first_epochs.append(trainer.epoch + 1))
    with wandb_session(project="ckpt", run_id="local-wins", checkpoints="wandb") as s, s.handoff(model) as h:
        h.train(resume=True, device="cpu")
    assert first_epochs == [4], "the local epoch-3 last.pt, newer than the run's epoch 2, was resumed"
    versions = _checkpoints(wandb_server, "local-wins")
    assert versions["epoch-2"].used_by == (), "the run's older checkpoint was not even downloaded"
    (run,) = wandb_server.runs(project="ckpt")
    assert [row["epoch"] for row in ul_checks.training_rows(run)] == [1, 2, 3, 4]


def test_an_offline_run_trains_without_checkpoints_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    data = ul_rig.make_dataset(tmp_path / "data")
    with (
        wandb_session(project="ckpt", mode="offline", checkpoints="wandb") as s,
        s.handoff(YOLO("yolov8n.yaml")) as h,
    ):
        h.train(**ul_rig.train_kwargs(data, tmp_path / "runs", epochs=1, device="cpu"))
    assert h.result.last.is_file()
    assert any("needs an online run (mode is 'offline')" in r.getMessage() for r in caplog.records)
