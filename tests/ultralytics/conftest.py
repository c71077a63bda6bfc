"""Fixtures of the Ultralytics tests: the rig's modules on sys.path, and the scenario run in a clean process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # ul_rig / ul_scenario, as the DDP workers import them

try:
    import wandb_ddp_bridge.testing.pytest_plugin  # noqa: F401  (provides `wandb_server`)
except ImportError:  # the plugin is not there yet: the same fixture, locally

    @pytest.fixture
    def wandb_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
        from wandb_ddp_bridge.testing import LocalWandbServer

        with LocalWandbServer(data_dir=tmp_path / "server") as server:
            for name, value in server.env().items():
                monkeypatch.setenv(name, value)
            yield server


@pytest.fixture(autouse=True)
def _offline_ultralytics(monkeypatch: pytest.MonkeyPatch) -> None:
    # 8.3.0 only honours the literal "true"; later releases accept it too.
    monkeypatch.setenv("YOLO_OFFLINE", "true")
