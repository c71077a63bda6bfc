"""Checkpoints in S3 (issue 21): objects under ``<prefix>/<run id>/epoch-<n>/last.pt``, a checksummed reference
artifact per epoch, retention deleting old objects, a bucket that cannot be reached refused before training.
S3 is moto's server on loopback, W&B the local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ul_checks
import ul_rig
from ultralytics import YOLO

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.artifacts.checkpoints import artifact_name
from wandb_ddp_bridge.errors import ConfigError
from wandb_ddp_bridge.integrations.ultralytics.checkpoints import ERRORS_KEY

pytestmark = pytest.mark.slow


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 client on a fresh moto server the process's AWS_* variables point at."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_S3_ENDPOINT_URL", raising=False)
    try:
        yield boto3.client("s3")
    finally:
        server.stop()


# moto keeps one store per process: each case has its own bucket
@pytest.mark.parametrize(("bucket", "prefix"), [("ckpts-prefixed", "team/"), ("ckpts-bare", "")])
def test_s3_checkpoints_are_referenced_by_the_run_and_pruned(
    wandb_server: Any, s3: Any, tmp_path: Path, bucket: str, prefix: str
) -> None:
    s3.create_bucket(Bucket=bucket)
    data = ul_rig.make_dataset(tmp_path / "data")
    with (
        wandb_session(
            project="ckpt-s3", run_id="s3-job", checkpoints=f"s3://{bucket}/{prefix}", checkpoint_keep=1
        ) as s,
        s.handoff(YOLO("yolov8n.yaml")) as h,
    ):
        h.train(**ul_rig.train_kwargs(data, tmp_path / "runs", epochs=2, device="cpu"))

    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    (run,) = wandb_server.runs(project="ckpt-s3")
    left = [a for a in run.artifacts if a.name == artifact_name("s3-job")]
    best_elsewhere = [a for a in left if "best" in a.aliases and "latest" not in a.aliases]
    assert len(left) == 1 + len(best_elsewhere), "checkpoint_keep=1, plus best"
    (latest,) = [a for a in left if "latest" in a.aliases]
    assert "epoch-2" in latest.aliases
    (entry,) = latest.entries
    assert entry.ref == f"s3://{bucket}/{prefix}s3-job/epoch-2/last.pt" and entry.digest, "a checksummed reference"
    assert f"{prefix}s3-job/epoch-2/last.pt" in keys
    if not best_elsewhere:
        assert keys == [f"{prefix}s3-job/epoch-2/last.pt"], "the pruned version's object is deleted"


def test_a_bucket_that_does_not_exist_is_refused_before_training(wandb_server: Any, s3: Any, tmp_path: Path) -> None:
    data = ul_rig.make_dataset(tmp_path / "data")
    with (
        pytest.raises(ConfigError, match=r"checkpoints='s3://missing-bucket': bucket 'missing-bucket' is unreach"),
        wandb_session(project="ckpt-s3", checkpoints="s3://missing-bucket") as s,
        s.handoff(YOLO("yolov8n.yaml")) as h,
    ):
        h.train(**ul_rig.train_kwargs(data, tmp_path / "runs", epochs=1, device="cpu"))


def test_failed_uploads_never_stop_training_and_are_counted(wandb_server: Any, s3: Any, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="vanishing")
    data = ul_rig.make_dataset(tmp_path / "data")
    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_start", lambda trainer: s3.delete_bucket(Bucket="vanishing"))  # after the check
    with (
        wandb_session(project="ckpt-s3", run_id="lost-bucket", checkpoints="s3://vanishing/p") as s,
        s.handoff(model) as h,
    ):
        h.train(**ul_rig.train_kwargs(data, tmp_path / "runs", epochs=2, device="cpu"))
    (run,) = wandb_server.runs(project="ckpt-s3")
    assert run.state == "finished" and [row["epoch"] for row in ul_checks.training_rows(run)] == [1, 2]
    assert run.summary[ERRORS_KEY] == 2
    assert [a for a in run.artifacts if a.name == artifact_name("lost-bucket")] == []
