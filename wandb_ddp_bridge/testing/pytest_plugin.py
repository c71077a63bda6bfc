"""pytest plugin (entry point ``wandb_ddp_bridge``): the ``wandb_server`` fixture.

Kept import-light: the server is imported inside the fixture, so merely having this package
installed costs other test suites nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import LocalWandbServer

__all__ = ["wandb_server"]

# Left over from a developer's shell, these would point the client at another run or service.
_CLEARED = (
    "WANDB_SERVICE",
    "WANDB_RUN_ID",
    "WANDB_RESUME",
    "WANDB_PROJECT",
    "WANDB_ENTITY",
    "WANDB_RUN_GROUP",
)


@pytest.fixture
def wandb_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWandbServer]:
    """A fresh local W&B server for one test, with the environment pointing the wandb SDK at it."""
    from .server import LocalWandbServer

    server = LocalWandbServer(tmp_path / "wandb-server").start()
    wandb_dir = tmp_path / "wandb-dir"
    wandb_dir.mkdir()
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    try:
        yield server
    finally:
        server.stop()
