"""Handoff descriptor export and the exact restore of the environment (values and absence)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.config import BridgeConfig
from wandb_ddp_bridge.env import (
    HANDOFF_ENV_VAR,
    MANAGED_VARIABLES,
    EnvSnapshot,
    HandoffDescriptor,
    exported,
    read_descriptor,
)
from wandb_ddp_bridge.errors import AttachError

DESCRIPTOR = HandoffDescriptor(
    run_id="abc123",
    project="proj",
    entity="team",
    base_url="http://127.0.0.1:9",
    mode="online",
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
    config = BridgeConfig.resolve(project="proj", api_key="k" * 40)
    with exported(DESCRIPTOR.environ(config)):
        assert os.environ["WANDB_RUN_ID"] == "abc123"
        assert os.environ["WANDB_PROJECT"] == "proj"
        assert os.environ["WANDB_ENTITY"] == "team"
        assert os.environ["WANDB_BASE_URL"] == "http://127.0.0.1:9"
        assert os.environ["WANDB_MODE"] == "online"
        # a child's own wandb.init() resumes the run or fails; it never creates a second one
        assert os.environ["WANDB_RESUME"] == "must"
        assert os.environ["WANDB_API_KEY"] == "k" * 40
        assert "WANDB_SERVICE" not in os.environ  # children start their own service
        assert read_descriptor() == DESCRIPTOR
    assert os.environ["WANDB_PROJECT"] == "old-project"
    assert os.environ["WANDB_SERVICE"] == "2-123-tcp-localhost-4444"
    for name in ("WANDB_RUN_ID", "WANDB_API_KEY", HANDOFF_ENV_VAR, "WANDB_RESUME", "WANDB_ENTITY"):
        assert name not in os.environ


def test_every_exported_variable_is_one_the_session_restores() -> None:
    config = BridgeConfig.resolve(project="proj", api_key="k" * 40, dir="/tmp/x")
    full = HandoffDescriptor(run_id="r", project="p", entity="e", base_url="http://h:1", mode="online", dir="/d")
    assert set(full.environ(config)) <= set(MANAGED_VARIABLES)


def test_export_restores_even_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), exported({"WANDB_RUN_ID": "x"}):
        raise RuntimeError("boom")
    assert "WANDB_RUN_ID" not in os.environ


def test_values_applied_later_are_restored_with_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HANDOFF_ENV_VAR, "the user's")
    with exported({"WANDB_RUN_ID": "x"}) as export:
        export.apply({HANDOFF_ENV_VAR: "released", "WANDB_NOTES": "later"})
        assert os.environ[HANDOFF_ENV_VAR] == "released"
    assert os.environ[HANDOFF_ENV_VAR] == "the user's"
    assert "WANDB_NOTES" not in os.environ and "WANDB_RUN_ID" not in os.environ


def test_the_api_key_reaches_children_only_as_wandb_api_key(tmp_path: Path) -> None:
    key = "k" * 40
    with wandb_session(project="p", mode="offline", dir=str(tmp_path), api_key=key) as s, s.handoff() as h:
        assert os.environ["WANDB_API_KEY"] == key
        assert key not in os.environ[HANDOFF_ENV_VAR]
        assert h.descriptor is not None and key not in json.dumps(vars(h.descriptor))
    assert "WANDB_API_KEY" not in os.environ


def test_without_a_configured_key_the_users_own_stays_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        monkeypatch.setenv("WANDB_API_KEY", "u" * 40)  # e.g. from the user's shell profile
        with s.handoff():
            assert os.environ["WANDB_API_KEY"] == "u" * 40


def test_prefix_snapshot_drops_variables_that_appeared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_KEEP", "1")
    snapshot = EnvSnapshot.capture_prefix("WANDB_")
    monkeypatch.setenv("WANDB_NEW_THING", "leak")
    monkeypatch.setenv("WANDB_KEEP", "changed")
    snapshot.restore(prefix="WANDB_")
    assert "WANDB_NEW_THING" not in os.environ
    assert os.environ["WANDB_KEEP"] == "1"


def test_only_run_variables_the_bridge_did_not_export_are_unclaimed() -> None:
    from wandb_ddp_bridge.env import unclaimed_run_variables

    stale = {"WANDB_RUN_ID": "old", "WANDB_RESUME": "must"}
    assert unclaimed_run_variables(stale) == ("WANDB_RUN_ID", "WANDB_RESUME")
    handed = HandoffDescriptor(run_id="r1", project="p", entity=None, base_url=None, mode="online")
    exported_by_handoff = {"WANDB_RUN_ID": "r1", "WANDB_RESUME": "must", HANDOFF_ENV_VAR: handed.to_json()}
    assert unclaimed_run_variables(exported_by_handoff) == ()
    assert unclaimed_run_variables({**exported_by_handoff, "WANDB_RUN_ID": "other"}) == ("WANDB_RUN_ID", "WANDB_RESUME")
    assert unclaimed_run_variables({**stale, HANDOFF_ENV_VAR: "{damaged"}) == ("WANDB_RUN_ID", "WANDB_RESUME")
    assert unclaimed_run_variables({"WANDB_RUN_ID": "assigned", "WANDB_SWEEP_ID": "s1"}) == ()
    assert unclaimed_run_variables({}) == ()
