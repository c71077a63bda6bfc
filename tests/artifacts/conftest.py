"""Fixtures for the artifact tests: an offline W&B run and a real S3-compatible endpoint (moto server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

S3_ENV = ("AWS_ENDPOINT_URL", "AWS_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real wandb run in offline mode: artifacts are built and logged locally, nothing leaves the host."""
    wandb = pytest.importorskip("wandb")
    root = tmp_path_factory.mktemp("wandb-offline")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.setenv("WANDB_DISABLE_CODE", "true")
        mp.delenv("WANDB_API_KEY", raising=False)
        # mode given explicitly: a wandb set up earlier in this process keeps the settings it read from the
        # environment then (an online server of an earlier test, say)
        run = wandb.init(project="artifacts-offline", dir=str(root), mode="offline")
        try:
            yield run
        finally:
            run.finish()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's server mode on loopback: a real HTTP S3 endpoint reached through AWS_ENDPOINT_URL."""
    pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (and the W&B client's S3 handler) at the moto endpoint with dummy credentials."""
    for name in S3_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3_endpoint


@pytest.fixture
def bucket(s3_env: str, request: pytest.FixtureRequest) -> str:
    import boto3

    name = "b-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    client = boto3.client("s3")
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """data/ with nested files and some that the default ignore list skips."""
    root = tmp_path / "data"
    (root / "images" / "sub").mkdir(parents=True)
    (root / "__pycache__").mkdir()
    (root / ".git").mkdir()
    (root / "images" / "a.jpg").write_bytes(b"a" * 10)
    (root / "images" / "sub" / "b.jpg").write_bytes(b"b" * 20)
    (root / "labels.txt").write_text("cat\n")
    (root / "__pycache__" / "x.pyc").write_bytes(b"x")
    (root / ".git" / "HEAD").write_text("ref")
    (root / "notes.pyc").write_bytes(b"n")
    os.utime(root / "labels.txt")
    return root
