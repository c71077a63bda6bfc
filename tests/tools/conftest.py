"""Helpers for the command-line, demo and example tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_python(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run ``python <args>`` from the repo root with the test's environment (plus extras)."""

    def run(
        *args: str, extra_env: dict[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, WANDB_DIR=str(tmp_path), YOLO_OFFLINE="1", **(extra_env or {}))
        return subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture(autouse=True)
def _fresh_wandb_singleton():  # type: ignore[no-untyped-def]
    """In-process wandb keeps one service and its settings (base URL) per process: reset between tests,
    or the next test's client talks to the previous test's (stopped) server."""
    yield
    if "wandb" in sys.modules:
        import wandb

        wandb.teardown()
