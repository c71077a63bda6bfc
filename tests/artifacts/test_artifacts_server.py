"""End to end against the local W&B server: what the backend receives is what the docs promise."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.artifacts import REDACTED
from wandb_ddp_bridge.compat import WandbManager
from wandb_ddp_bridge.errors import PhaseError

V1_KEY = "wandb_v1_" + "Qm9vZ2llV29vZ2llMTIzNDU2Nzg5MEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla" + "x1y2z3"
SECRETS = {
    "password": "pw-1111-aaaa",
    "token": "tok-2222-bbbb",
    "client_secret": "sec-3333-cccc",
    "credentials": "cred-4444-dddd",
    "private_key": "pk-5555-eeee",
    "access_key": "ak-6666-ffff",
    "aws_secret_access_key": "aws-7777-gggg",
    "authorization": "Bearer auth-8888-hhhh",
    "passwd": "pwd-9999-iiii",
}

# Stands in for training: a separate process (like a DDP worker) re-attaches and logs the epochs.
FAKE_TRAINING = (
    "import wandb_ddp_bridge as b\n"
    "run = b.attach()\n"
    "for epoch in range({epochs}):\n"
    "    run.log({{'epoch': epoch, 'train/loss': 1.0 / (epoch + 1)}})\n"
    "b.detach()\n"
)


def fake_training(epochs: int = 3) -> None:
    subprocess.run([sys.executable, "-c", FAKE_TRAINING.format(epochs=epochs)], check=True, timeout=120)


def _artifacts(record: Any) -> dict[str, Any]:
    return {a.qualified_name: a for a in record.artifacts}


def test_no_secret_text_reaches_the_server(wandb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    omegaconf = pytest.importorskip("omegaconf")
    monkeypatch.setenv("MY_ENV_TOKEN", "env-0000-zzzz")
    cfg = omegaconf.OmegaConf.create(
        {
            "wandb": {"project": "secrets", "api_key": wandb_server.api_key},
            "svc": dict(SECRETS),
            "nested": {"list": [{"hf_token": "hf-1212-jjjj"}, {"note": V1_KEY}]},
            "from_env": {"x": "${oc.env:MY_ENV_TOKEN}"},
            "copied_key": "${wandb.api_key}",
            "dsn": "postgres://me:${svc.password}@db/x",
            "lr": 0.01,
        }
    )
    with wandb_session(cfg) as s:
        s.save_config(cfg)
        s.save_metadata({"api_key": wandb_server.api_key, "launch_cmd": f"WANDB_API_KEY={V1_KEY} python t.py"})
        with s.handoff():
            fake_training(1)
        s.save_config(cfg, key="post_config")
        run_id = s.id
    received = wandb_server.all_received_text()
    record = wandb_server.run(run_id)
    assert record.config["config"]["lr"] == 0.01  # the config did arrive ...
    assert record.config["config"]["wandb"]["api_key"] == REDACTED  # ... redacted
    assert record.config["post_config"]["svc"]["token"] == REDACTED
    assert record.config["job"]["api_key"] == REDACTED
    leaked = [
        v
        for v in [wandb_server.api_key, V1_KEY, "hf-1212-jjjj", "env-0000-zzzz", *SECRETS.values(), "auth-8888-hhhh"]
        if v in received
    ]
    assert leaked == []
    assert "config.yaml" in {e.path for a in record.artifacts for e in a.entries}


def test_pre_and_post_artifacts_belong_to_the_one_run(wandb_server: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "images" / "a.jpg").write_bytes(b"a" * 10)
    (data / "labels.txt").write_text("cat\n")
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"w" * 100)
    with wandb_session(project="phases", name="three-phases") as s:
        s.save_config({"epochs": 3})
        s.save_artifacts(data, name="train-data", type="dataset")
        s.save_metadata({"model_version": "v3"})
        with s.handoff():
            fake_training(3)
        s.save_artifacts(data, name="train-data", type="dataset")  # unchanged: no new version
        s.log_model(weights, name="yolo-best", aliases=("latest", "best"))
        s.log_s3_artifact("s3://my-bucket/models/final.pt", name="final_model", aliases=["prod"])
        run_id = s.id
    assert len(wandb_server.runs()) == 1
    record = wandb_server.run(run_id)
    assert record.created_count == 1 and not record.overlapping
    assert [h["epoch"] for h in record.history] == [0, 1, 2], record.history
    arts = _artifacts(record)
    assert set(arts) == {"config:v0", "train-data:v0", "yolo-best:v0", "final_model:v0"}, record.sessions
    assert all(a.run_path == record.path for a in arts.values())
    assert arts["config:v0"].type == "config"
    assert sorted(e.path for e in arts["train-data:v0"].entries) == ["data/images/a.jpg", "data/labels.txt"]
    assert arts["train-data:v0"].type == "dataset"
    assert set(arts["yolo-best:v0"].aliases) == {"latest", "best"} and arts["yolo-best:v0"].type == "model"
    assert arts["yolo-best:v0"].entry("best.pt").size == 100
    s3 = arts["final_model:v0"]
    assert set(s3.aliases) == {"latest", "prod"} and s3.type == "model"
    assert s3.entry("final.pt").ref == "s3://my-bucket/models/final.pt"
    pre = {arts["config:v0"].session_index, arts["train-data:v0"].session_index}
    post = {arts["yolo-best:v0"].session_index, s3.session_index}
    assert max(pre) < min(post), (pre, post)  # PRE artifacts in the first writer session, POST ones after training
    assert record.config["job"]["model_version"] == "v3"


def test_changed_content_makes_a_new_version_identical_content_does_not(wandb_server: Any, tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("v1")
    with wandb_session(project="dedup") as s:
        s.save_artifacts(f, name="labels")
        with s.handoff():
            pass
        s.save_artifacts(f, name="labels")
        f.write_text("v2")
        with s.handoff():
            pass
        s.save_artifacts(f, name="labels")
        run_id = s.id
    versions = sorted(a.qualified_name for a in wandb_server.run(run_id).artifacts)
    assert versions == ["labels:v0", "labels:v1"]


def test_s3_checksum_reference_carries_etag_and_size(wandb_server: Any, bucket: str) -> None:
    import boto3

    client = boto3.client("s3")
    client.put_object(Bucket=bucket, Key="models/final.pt", Body=b"m" * 4321)
    etag = client.head_object(Bucket=bucket, Key="models/final.pt")["ETag"].strip('"')
    with wandb_session(project="s3") as s:
        with s.handoff():
            pass
        s.log_s3_artifact(f"s3://{bucket}/models/final.pt", name="final_model", checksum=True)
        with pytest.raises(FileNotFoundError, match=f"s3://{bucket}/models/missing.pt"):
            s.log_s3_artifact(f"s3://{bucket}/models/missing.pt", name="missing_model", checksum=True)
        run_id = s.id
    arts = _artifacts(wandb_server.run(run_id))
    assert set(arts) == {"final_model:v0"}  # the failed one left nothing behind
    entry = arts["final_model:v0"].entry("final.pt")
    assert (entry.digest, entry.size, entry.ref) == (etag, 4321, f"s3://{bucket}/models/final.pt")


def test_wandb_manager_runs_the_complete_example(wandb_server: Any, tmp_path: Path) -> None:
    listed = tmp_path / "dataset.yaml"
    listed.write_text("path: data\n")
    raw_cfg = {
        "wandb": {"project": "seed-project", "api_key": wandb_server.api_key, "artifacts": [str(listed)]},
        "model": "yolov8n.pt",
        "epochs": 2,
    }
    cfg = types.SimpleNamespace(wandb=types.SimpleNamespace(**raw_cfg["wandb"]), epochs=2)

    wandb_manager = WandbManager(cfg, "yolo-job", "experiment-7")
    run, url = wandb_manager.initialize()
    assert run is not None and url is not None and url.startswith(wandb_server.url)
    wandb_manager.save_config(raw_cfg)
    wandb_manager.save_training_artifacts()
    wandb_manager.save_training_job_metadata({"model_version": "yolov8n"})
    wandb_manager.prepare_for_training()
    with pytest.raises(PhaseError, match="resume_after_training"):  # Common Mistake 1
        wandb_manager.save_config(raw_cfg)
    fake_training(2)
    wandb_manager.resume_after_training()
    wandb_manager.log_s3_artifact("s3://my-bucket/models/final.pt", "final_model", "model")
    wandb_manager.finish()
    with pytest.raises(PhaseError, match="already called"):  # Common Mistake 3
        wandb_manager.finish()

    assert len(wandb_server.runs()) == 1
    record = wandb_server.run(run.id)
    assert record.display_name == "yolo-job" and record.group == "experiment-7"
    assert [s.resume_mode for s in record.sessions] == ["none", "must", "must"]
    assert [s.exit_code for s in record.sessions] == [0, 0, 0] and not record.overlapping
    assert [h["epoch"] for h in record.history] == [0, 1]
    phases = record.summary["bridge_phases"]
    assert phases["pre_start"] <= phases["pre_end"] <= phases["training_start"] <= phases["training_end"]
    assert phases["training_end"] <= phases["post_start"] <= phases["post_end"]
    arts = _artifacts(record)
    assert set(arts) == {"config:v0", "training_artifacts:v0", "final_model:v0"}
    assert [e.path for e in arts["training_artifacts:v0"].entries] == ["dataset.yaml"]
    assert record.config["config"]["wandb"]["api_key"] == REDACTED
    assert wandb_server.api_key not in wandb_server.all_received_text()
