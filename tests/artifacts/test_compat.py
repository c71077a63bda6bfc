"""WandbManager keeps the hand-written manager's names and refuses its classic mistakes (offline mode)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from wandb_ddp_bridge.compat import WandbManager, configured_artifact_paths
from wandb_ddp_bridge.errors import PhaseError
from wandb_ddp_bridge.phases import Phase


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    data = tmp_path / "data.txt"
    data.write_text("d")
    wandb = types.SimpleNamespace(project="seed-project", api_key=None, artifacts=[str(data)])
    return types.SimpleNamespace(wandb=wandb, lr=0.01)


@pytest.fixture
def manager(cfg: Any) -> Any:
    m = WandbManager(cfg, "job-1", "group-a")
    yield m
    if m.phase is Phase.HANDOFF:
        m.resume_after_training()
    if m.phase in (Phase.PRE, Phase.POST):
        m.finish()


def test_prepare_for_training_without_initialize_is_refused(manager: Any) -> None:
    with pytest.raises(PhaseError, match=r"call initialize\(\) first"):
        manager.prepare_for_training()


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("save_config", ({"a": 1},)),
        ("save_training_artifacts", ()),
        ("save_training_job_metadata", ({"v": 1},)),
        ("log_s3_artifact", ("s3://my-bucket/m.pt", "m")),
        ("log", ({"x": 1},)),
    ],
)
def test_logging_while_handed_off_is_refused_with_guidance(manager: Any, method: str, args: tuple[Any, ...]) -> None:
    manager.initialize()
    manager.prepare_for_training()
    with pytest.raises(PhaseError, match=r"call resume_after_training\(\)"):
        getattr(manager, method)(*args)
    manager.resume_after_training()
    assert manager.phase is Phase.POST


def test_finishing_twice_and_logging_after_finish_are_refused(manager: Any) -> None:
    manager.initialize()
    manager.finish()
    with pytest.raises(PhaseError, match="already called"):
        manager.finish()
    with pytest.raises(PhaseError, match="already finished"):
        manager.log_s3_artifact("s3://my-bucket/m.pt", "m")
    with pytest.raises(PhaseError, match="new WandbManager"):
        manager.initialize()


def test_finish_while_handed_off_and_resume_without_handoff_are_refused(manager: Any) -> None:
    manager.initialize()
    with pytest.raises(PhaseError, match=r"prepare_for_training\(\) before training"):
        manager.resume_after_training()
    manager.prepare_for_training()
    with pytest.raises(PhaseError, match=r"resume_after_training\(\) first"):
        manager.finish()
    with pytest.raises(PhaseError, match="handed off"):
        manager.prepare_for_training()


def test_initialize_twice_is_refused(manager: Any) -> None:
    run, _url = manager.initialize()
    assert run is not None and run.name == "job-1" and run.group == "group-a"
    with pytest.raises(PhaseError, match="already called"):
        manager.initialize()


def test_every_method_is_a_noop_off_the_main_rank(cfg: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    m = WandbManager(cfg, "job", "grp")
    assert m.initialize() == (None, None)
    assert m.save_config({"api_key": "x"}) is None
    assert m.save_training_artifacts() is None
    assert m.save_training_job_metadata({"a": 1}) is None
    m.prepare_for_training()
    with pytest.raises(PhaseError):
        m.save_config({})
    assert m.resume_after_training() is None
    assert m.log_s3_artifact("s3://my-bucket/m.pt", "m") is None
    m.finish()
    with pytest.raises(PhaseError):
        m.finish()
    assert not list(tmp_path.glob("wandb/*run-*"))


@pytest.mark.parametrize(
    ("wandb_section", "expected"),
    [
        ({"artifact_paths": ["a", "b"]}, ["a", "b"]),
        ({"artifacts": "single.txt"}, ["single.txt"]),
        ({"upload_paths": ["u"], "artifacts": ["first"]}, ["first"]),
        ({"project": "p"}, []),
    ],
)
def test_configured_artifact_paths(wandb_section: dict[str, Any], expected: list[str]) -> None:
    assert configured_artifact_paths({"wandb": wandb_section}) == expected


def test_save_training_artifacts_without_configured_paths_logs_nothing(manager: Any) -> None:
    manager.cfg.wandb.artifacts = None
    manager.initialize()
    assert manager.save_training_artifacts() is None
