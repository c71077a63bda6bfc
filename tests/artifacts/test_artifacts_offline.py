"""Artifact building against the real wandb client (offline mode) and a real S3 endpoint (moto server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from wandb_ddp_bridge.artifacts import (
    REDACTED,
    S3_INSTALL_HINT,
    S3ObjectNotFoundError,
    log_config,
    log_files,
    log_metadata,
    log_model,
    log_s3_reference,
    parse_s3_uri,
)
from wandb_ddp_bridge.errors import ConfigError

KEY = "0123456789abcdef0123456789abcdef01234567"


def _entries(art: Any) -> dict[str, Any]:
    return dict(art.manifest.entries)


# ---------------------------------------------------------------------------------------------- config


def test_log_config_stores_redacted_config_and_yaml_artifact(offline_run: Any) -> None:
    cfg = {"wandb": {"project": "p", "api_key": KEY}, "train": {"epochs": 3, "password": "pw-123456"}}
    art = log_config(offline_run, cfg, key="cfg_a")
    assert offline_run.config["cfg_a"] == {
        "wandb": {"project": "p", "api_key": REDACTED},
        "train": {"epochs": 3, "password": REDACTED},
    }
    assert art is not None and art.type == "config" and list(_entries(art)) == ["config.yaml"]
    text = Path(art.manifest.entries["config.yaml"].local_path).read_text()
    assert yaml.safe_load(text) == offline_run.config["cfg_a"]
    assert KEY not in text and "pw-123456" not in text
    assert cfg["wandb"]["api_key"] == KEY  # caller's object untouched


def test_log_config_from_yaml_path_and_without_artifact(offline_run: Any, tmp_path: Path) -> None:
    p = tmp_path / "train.yaml"
    p.write_text("lr: 0.01\ntoken: tok-abcdef\n")
    assert log_config(offline_run, p, key="cfg_b", artifact=False) is None
    assert offline_run.config["cfg_b"] == {"lr": 0.01, "token": REDACTED}


def test_log_config_rejects_non_mappings(offline_run: Any) -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        log_config(offline_run, [1, 2], key="cfg_c")


# ---------------------------------------------------------------------------------------------- files


def test_log_files_collects_files_and_directories_recursively_with_ignores(offline_run: Any, tree: Path) -> None:
    extra = tree.parent / "extra.txt"
    extra.write_text("e")
    art = log_files(offline_run, [tree, extra], name="train-data", type="dataset", aliases=["v-test"])
    assert art.type == "dataset"
    assert sorted(_entries(art)) == ["data/images/a.jpg", "data/images/sub/b.jpg", "data/labels.txt", "extra.txt"]
    assert art.manifest.entries["data/images/sub/b.jpg"].size == 20


def test_identical_content_has_the_same_digest(tree: Path, offline_run: Any) -> None:
    a = log_files(offline_run, tree, name="same-data")
    b = log_files(offline_run, tree, name="same-data")
    assert a.digest == b.digest
    (tree / "labels.txt").write_text("dog\n")
    c = log_files(offline_run, tree, name="same-data")
    assert c.digest != a.digest


def test_log_files_custom_ignore(offline_run: Any, tree: Path) -> None:
    art = log_files(offline_run, tree, name="only-labels", ignore=("images", "*.pyc", ".git", "__pycache__"))
    assert list(_entries(art)) == ["data/labels.txt"]


@pytest.mark.parametrize(
    ("paths", "error", "match"),
    [
        (["does/not/exist"], FileNotFoundError, "no such file"),
        ([], ValueError, "no paths"),
    ],
)
def test_log_files_bad_input_logs_nothing(paths: list[str], error: type[Exception], match: str) -> None:
    run = mock.MagicMock()
    with pytest.raises(error, match=match):
        log_files(run, paths, name="x")
    run.log_artifact.assert_not_called()


def test_log_files_nothing_left_after_ignores(tmp_path: Path) -> None:
    (tmp_path / "d" / "__pycache__").mkdir(parents=True)
    (tmp_path / "d" / "__pycache__" / "a.pyc").write_bytes(b"")
    run = mock.MagicMock()
    with pytest.raises(ValueError, match="nothing to log"):
        log_files(run, tmp_path / "d", name="x")
    run.log_artifact.assert_not_called()


LOG_MODEL_OFFLINE = """
import sys, wandb
from wandb_ddp_bridge.artifacts import log_model
run = wandb.init(project="aliases", dir=sys.argv[1], mode="offline")
art = log_model(run, sys.argv[2], name="yolo-model", aliases=("latest", "best"))
assert art.type == "model" and list(art.manifest.entries) == ["best.pt"], art.manifest.entries
print(run.settings.sync_dir)
run.finish()
"""


def test_log_model_file_with_aliases(tmp_path: Path) -> None:
    """The aliases as the server records them once the offline copy is synced (``wandb sync``), not as a
    mock received them."""
    from wandb_ddp_bridge.testing import LocalWandbServer

    w = tmp_path / "best.pt"
    w.write_bytes(b"\0" * 64)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_SILENT="true", WANDB_DISABLE_CODE="true", WANDB_DISABLE_GIT="true")
    logged = subprocess.run(
        [sys.executable, "-c", LOG_MODEL_OFFLINE, str(tmp_path), str(w)], env=env, capture_output=True, text=True
    )
    assert logged.returncode == 0, logged.stderr
    with LocalWandbServer(tmp_path / "server") as server:
        synced = subprocess.run(
            [sys.executable, "-m", "wandb", "sync", logged.stdout.split()[-1]],
            env={**env, **server.env()},
            capture_output=True,
            text=True,
        )
        assert synced.returncode == 0, synced.stderr
        [run] = server.runs()
        [model] = [a for a in run.artifacts if a.name == "yolo-model"]
    assert model.type == "model" and set(model.aliases) == {"latest", "best"}, model
    assert [e.path for e in model.entries] == ["best.pt"]


# ---------------------------------------------------------------------------------------------- metadata


def test_log_metadata_fills_known_fields_and_user_values_win(offline_run: Any) -> None:
    job = log_metadata(offline_run, {"model_version": "v3", "hostname": "mine", "token": "abcdef-123"})
    assert job["model_version"] == "v3" and job["hostname"] == "mine" and job["token"] == REDACTED
    assert job["launcher"] == "none" and job["world_size"] == 1
    assert job["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert job["wandb_version"]
    assert offline_run.config["job"] == job
    assert offline_run.summary["job"]["model_version"] == "v3"
    again = log_metadata(offline_run, {"stage": "post"})
    assert again["model_version"] == "v3" and again["stage"] == "post"


def test_log_metadata_reads_launcher_and_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import subprocess

    from wandb_ddp_bridge.artifacts import collect_metadata

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q", "-b", "feature"], check=True)
    (repo / "f").write_text("1")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    (repo / "f").write_text("2")
    for k, v in {"RANK": "0", "WORLD_SIZE": "4", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(k, v)
    meta = collect_metadata(cwd=str(repo))
    assert meta["launcher"] == "torchrun" and meta["world_size"] == 4
    assert len(meta["git_commit"]) == 40 and meta["git_branch"] == "feature" and meta["git_dirty"] is True


def test_collect_metadata_does_not_import_torch() -> None:
    import subprocess

    code = (
        "import sys; from wandb_ddp_bridge.artifacts import collect_metadata; m = collect_metadata(); "
        "assert 'torch' not in sys.modules and 'ultralytics' not in sys.modules; print(m.get('torch_version'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------- S3


@pytest.mark.parametrize(
    "uri",
    [
        "s3:/bucket/key",
        "https://bucket/key",
        "s3://",
        "s3://bucket",
        "s3://bucket/",
        "s3://Bad_Bucket/key",
        "s3://ab/key",
        "s3://bucket//key",
        "s3://bucket/key with space",
        "s3://bucket/key?acl=1",
        " s3://bucket/key",
    ],
)
def test_bad_s3_uris_raise_before_anything_is_logged(uri: str) -> None:
    run = mock.MagicMock()
    with pytest.raises(ConfigError, match="S3 URI"):
        log_s3_reference(run, uri, name="m")
    run.log_artifact.assert_not_called()


def test_good_s3_uris_parse() -> None:
    assert parse_s3_uri("s3://my-bucket/models/final.pt").key == "models/final.pt"
    assert parse_s3_uri("s3://my.bucket-1/models/").is_prefix
    assert parse_s3_uri("s3://b12/k?versionId=abc").version_id == "abc"


def test_missing_boto3_gives_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    run = mock.MagicMock()
    with pytest.raises(ImportError) as info:
        log_s3_reference(run, "s3://my-bucket/m.pt", name="m")
    assert S3_INSTALL_HINT in str(info.value) and 'pip install "wandb-ddp-bridge[s3]"' in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    run.log_artifact.assert_not_called()


def test_checksum_true_records_etag_and_size(offline_run: Any, bucket: str) -> None:
    import boto3

    client = boto3.client("s3")
    client.put_object(Bucket=bucket, Key="models/final.pt", Body=b"w" * 1234)
    etag = client.head_object(Bucket=bucket, Key="models/final.pt")["ETag"].strip('"')
    art = log_s3_reference(offline_run, f"s3://{bucket}/models/final.pt", name="final_model", checksum=True)
    entry = art.manifest.entries["final.pt"]
    assert (entry.digest, entry.size, entry.extra["etag"]) == (etag, 1234, etag)
    assert entry.ref == f"s3://{bucket}/models/final.pt"


def test_checksum_true_prefix_lists_every_object(offline_run: Any, bucket: str) -> None:
    import boto3

    client = boto3.client("s3")
    for key in ("ckpt/a.pt", "ckpt/sub/b.pt"):
        client.put_object(Bucket=bucket, Key=key, Body=b"x" * 5)
    art = log_s3_reference(offline_run, f"s3://{bucket}/ckpt/", name="ckpts", type="checkpoints", checksum=True)
    assert sorted(_entries(art)) == ["a.pt", "sub/b.pt"] and art.type == "checkpoints"


@pytest.mark.parametrize("key", ["models/missing.pt", "nothing-here/"])
def test_checksum_true_missing_object_names_the_uri(bucket: str, key: str) -> None:
    run = mock.MagicMock()
    uri = f"s3://{bucket}/{key}"
    with pytest.raises(S3ObjectNotFoundError, match=uri.replace("?", r"\?")):
        log_s3_reference(run, uri, name="m", checksum=True)
    run.log_artifact.assert_not_called()


def test_checksum_true_missing_bucket(s3_env: str) -> None:
    run = mock.MagicMock()
    with pytest.raises(S3ObjectNotFoundError, match="no-such-bucket-x"):
        log_s3_reference(run, "s3://no-such-bucket-x/m.pt", name="m", checksum=True)
    run.log_artifact.assert_not_called()


def test_checksum_false_needs_no_endpoint_and_no_credentials(offline_run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("boto3")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: any request would fail
    import botocore.client

    def no_request(client: Any, operation: str, params: Any) -> Any:
        raise AssertionError(f"checksum=False must not call S3 ({operation})")

    # every S3 request of boto3 goes through here: the claim is that none is made (no time bound needed)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_request)
    art = log_s3_reference(offline_run, "s3://my-bucket/models/final.pt", name="final_model_ref", aliases=["prod"])
    entry = art.manifest.entries["final.pt"]
    assert entry.ref == entry.digest == "s3://my-bucket/models/final.pt"


def test_log_model_s3_uri_is_a_reference(offline_run: Any) -> None:
    pytest.importorskip("boto3")
    art = log_model(offline_run, "s3://my-bucket/models/best.pt", name="best_model")
    assert art.manifest.entries["best.pt"].ref == "s3://my-bucket/models/best.pt"


def test_importing_artifacts_and_compat_imports_no_heavy_module() -> None:
    import subprocess

    code = (
        "import sys, wandb_ddp_bridge.artifacts, wandb_ddp_bridge.compat; "
        "heavy = [m for m in ('wandb', 'boto3', 'torch', 'ultralytics', 'omegaconf') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
