"""Checkpoints in S3 (issue 21): objects under ``<prefix>/<run id>/epoch-<n>/last.pt``, a checksummed reference
artifact per epoch (in-process and from the DDP rank-0 worker), retention deleting old objects, a bucket that
cannot be reached or is denied refused before training. S3 is moto's server on loopback (DDP workers reach it
through the inherited ``AWS_ENDPOINT_URL``), W&B the local server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import ul_checks
import ul_rig
from support import deleted_runs
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


def test_ddp_rank_zero_uploads_each_epoch_to_s3_and_references_it(
    wandb_server: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.create_bucket(Bucket="ckpts-ddp")
    data = ul_rig.make_dataset(tmp_path / "data")
    rig = str(Path(ul_rig.__file__).parent)  # DDP workers rebuild the rig's trainer from its module
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (rig, os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    monkeypatch.chdir(tmp_path)
    train = ul_rig.train_kwargs(data, tmp_path / "runs", epochs=2, device="cpu", trainer=ul_rig.CPUDDPDetectionTrainer)
    with (
        wandb_session(project="ckpt-s3", run_id="s3-ddp", checkpoints="s3://ckpts-ddp/ddp") as s,
        s.handoff(YOLO("yolov8n.yaml")) as h,
    ):
        h.train(**train)

    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="ckpts-ddp").get("Contents", []))
    assert keys == ["ddp/s3-ddp/epoch-1/last.pt", "ddp/s3-ddp/epoch-2/last.pt"], "one object per epoch, rank 0 only"
    (run,) = wandb_server.runs(project="ckpt-s3")
    assert run.state == "finished" and [row["epoch"] for row in ul_checks.training_rows(run)] == [1, 2]
    assert run.summary[ERRORS_KEY] == 0
    versions = {
        next(x for x in a.aliases if x.startswith("epoch-")): a
        for a in run.artifacts
        if a.name == artifact_name("s3-ddp")
    }
    assert set(versions) == {"epoch-1", "epoch-2"} and "latest" in versions["epoch-2"].aliases
    for epoch, art in versions.items():
        (entry,) = art.entries
        assert entry.ref == f"s3://ckpts-ddp/ddp/s3-ddp/{epoch}/last.pt" and entry.digest, "a checksummed reference"
        assert art.metadata["epoch"] == int(epoch.removeprefix("epoch-")) and art.metadata["run_id"] == "s3-ddp"


class _DenyingS3(BaseHTTPRequestHandler):
    """An S3 endpoint that answers every request 403 AccessDenied, as a bucket policy that denies does; a
    subclass gives ``requests``, where each request is recorded."""

    requests: list[str]

    def _deny(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else 0))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET = do_PUT = do_POST = do_DELETE = _deny

    def log_message(self, *args: Any) -> None:
        pass


def test_a_denied_bucket_is_refused_before_training_and_nothing_is_created(
    wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("boto3")
    requests: list[str] = []
    denying = ThreadingHTTPServer(("127.0.0.1", 0), type("Denying", (_DenyingS3,), {"requests": requests}))
    threading.Thread(target=denying.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{denying.server_address[1]}")
    monkeypatch.delenv("AWS_S3_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    data = ul_rig.make_dataset(tmp_path / "data")
    model = YOLO("yolov8n.yaml")
    started: list[int] = []
    model.add_callback("on_pretrain_routine_start", lambda trainer: started.append(1))
    try:
        with (
            pytest.raises(ConfigError) as refused,
            wandb_session(project="ckpt-s3", run_id="denied", checkpoints="s3://denied-bucket/team") as s,
            s.handoff(model) as h,
        ):
            h.train(**ul_rig.train_kwargs(data, tmp_path / "runs", epochs=1, device="cpu"))
    finally:
        denying.shutdown()
        denying.server_close()
    message = str(refused.value)
    assert "checkpoints='s3://denied-bucket/team'" in message and "'denied-bucket' is unreachable or denied" in message
    assert "403" in message and "AWS credentials" in message and "checkpoints='wandb'" in message, "names the fix"
    assert started == [] and not (tmp_path / "runs").exists(), "training never started"
    assert requests and all(r.startswith("HEAD ") for r in requests), "only the bucket check reached S3"
    # the run the session created for the refused training held nothing, so it was deleted again (refusals.py)
    assert wandb_server.runs(project="ckpt-s3") == []
    assert deleted_runs(wandb_server) == [f"{wandb_server.entity}/ckpt-s3/denied"]
