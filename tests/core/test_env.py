"""Handoff descriptor export and the exact restore of the environment (values and absence)."""

from __future__ import annotations

import os

import pytest

from wandb_ddp_bridge.config import BridgeConfig
from wandb_ddp_bridge.env import HANDOFF_ENV_VAR, EnvSnapshot, HandoffDescriptor, exported, read_descriptor
from wandb_ddp_bridge.errors import AttachError

DESCRIPTOR = HandoffDescriptor(
    run_id="abc123", project="proj", entity="team", base_url="http://127.0.0.1:9", mode="online",
    devices=(0, 1),
)


def test_descriptor_round_trips_through_json() -> None:
    assert HandoffDescriptor.from_json(DESCRIPTOR.to_json()) == DESCRIPTOR


def test_descriptor_of_another_version_is_refused() -> None:
    with pytest.raises(AttachError, match="different bridge versions"):
        HandoffDescriptor.from_json('{"version": 99, "run_id": "x"}')


def test_damaged_descriptor_is_refused() -> None:
    with pytest.raises(AttachError, match="not valid JSON"):
        HandoffDescriptor.from_json("{not json")


def test_export_sets_everything_then_restores_values_and_absence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "old-project")
    monkeypatch.setenv("WANDB_SERVICE", "2-123-tcp-localhost-4444")
    monkeypatch.delenv("WANDB_RUN_ID", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv(HANDOFF_ENV_VAR, raising=False)
    config = BridgeConfig.resolve(project="proj", api_key="k" * 40)
    with exported(DESCRIPTOR.environ(config)):
        assert os.environ["WANDB_RUN_ID"] == "abc123"
        assert os.environ["WANDB_PROJECT"] == "proj"
        assert os.environ["WANDB_ENTITY"] == "team"
        assert os.environ["WANDB_RESUME"] == "allow"
        assert os.environ["WANDB_API_KEY"] == "k" * 40
        assert "WANDB_SERVICE" not in os.environ  # children start their own service
        assert read_descriptor() == DESCRIPTOR
    assert os.environ["WANDB_PROJECT"] == "old-project"
    assert os.environ["WANDB_SERVICE"] == "2-123-tcp-localhost-4444"
    for name in ("WANDB_RUN_ID", "WANDB_API_KEY", HANDOFF_ENV_VAR, "WANDB_RESUME"):
        assert name not in os.environ


def test_export_restores_even_when_the_block_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_RUN_ID", raising=False)
    with pytest.raises(RuntimeError), exported({"WANDB_RUN_ID": "x"}):
        raise RuntimeError("boom")
    assert "WANDB_RUN_ID" not in os.environ


def test_api_key_only_exported_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    values = DESCRIPTOR.environ(BridgeConfig.resolve(project="proj"))
    assert "WANDB_API_KEY" not in values
    assert "k" * 40 not in DESCRIPTOR.to_json()


def test_prefix_snapshot_drops_variables_that_appeared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_KEEP", "1")
    snapshot = EnvSnapshot.capture_prefix("WANDB_")
    os.environ["WANDB_NEW_THING"] = "leak"
    os.environ["WANDB_KEEP"] = "changed"
    snapshot.restore(prefix="WANDB_")
    assert "WANDB_NEW_THING" not in os.environ
    assert os.environ["WANDB_KEEP"] == "1"
