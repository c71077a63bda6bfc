"""pytest plugin (entry point ``wandb_ddp_bridge``): the ``wandb_server`` fixture, and
``wandb_server_unexported`` (the same server, its settings not exported: propagation is the code's job).

Kept import-light: the server is imported inside the fixture, so merely having this package
installed costs other test suites nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import LocalWandbServer

__all__ = ["wandb_server", "wandb_server_unexported"]

# Left over from a developer's shell, these would point the client at another run or service.
_CLEARED = (
    "WANDB_SERVICE",
    "WANDB_RUN_ID",
    "WANDB_RESUME",
    "WANDB_PROJECT",
    "WANDB_ENTITY",
    "WANDB_RUN_GROUP",
)


# Where the server's settings come from in the variant that does not export them.
_SERVER_SETTINGS = ("WANDB_BASE_URL", "WANDB_API_KEY", "WANDB_MODE")


@pytest.fixture
def wandb_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWandbServer]:
    """A fresh local W&B server for one test, with the environment pointing the wandb SDK at it."""
    yield from _serve(tmp_path, monkeypatch, export=True)


@pytest.fixture
def wandb_server_unexported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWandbServer]:
    """Like ``wandb_server``, but ``WANDB_BASE_URL``, ``WANDB_API_KEY`` and ``WANDB_MODE`` are NOT in the
    environment (nor ``WANDB_ENTITY``, nor a ``.netrc``): the test hands them to the code under test (e.g.
    ``wandb_session(base_url=server.base_url, api_key=server.api_key, entity=...)``), so a child process or a
    DDP worker reaches the server only if that code passes them on itself."""
    yield from _serve(tmp_path, monkeypatch, export=False)


def _serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, export: bool) -> Iterator[LocalWandbServer]:
    from .server import LocalWandbServer

    _reset_wandb_process_state()
    server = LocalWandbServer(tmp_path / "wandb-server").start()
    wandb_dir = tmp_path / "wandb-dir"
    wandb_dir.mkdir()
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in server.env().items():
        if export or name not in _SERVER_SETTINGS:
            monkeypatch.setenv(name, value)
    if not export:
        for name in _SERVER_SETTINGS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))  # no API key from the user's ~/.netrc
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    try:
        yield server
    finally:
        server.stop()


def _reset_wandb_process_state() -> None:
    """An in-process wandb client keeps one service and the settings it read from the environment at first
    use (the base URL among them) for the life of the process: a plain ``wandb.init()`` in this test would
    talk to an earlier test's stopped server. Reset it while no run is open (the next ``init`` starts afresh)."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is None:
        wandb.teardown()
