"""`wandb-ddp-bridge doctor`: a report with advice, also on a bare environment (no torch/ultralytics)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wandb_ddp_bridge.tools.cli import main

# Runs the CLI in a fresh interpreter where torch, ultralytics, cloudpickle and boto3 cannot be imported.
BARE = """
import sys
BLOCKED = {"torch", "ultralytics", "cloudpickle", "boto3"}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None
sys.meta_path.insert(0, Blocker())
from wandb_ddp_bridge.tools.cli import main
main(["doctor", "--no-network"])
"""


def test_doctor_reports_a_bare_environment_without_crashing(run_python: Any) -> None:
    result = run_python("-c", BARE, extra_env={"WANDB_MODE": "online"})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Traceback" not in result.stderr
    for topic in ("ultralytics", "torch"):
        line = next(ln for ln in out.splitlines() if ln[8:].startswith(topic + " "))
        assert "WARN" in line and "not installed" in line
    assert "pip install 'wandb-ddp-bridge[ultralytics]'" in out
    assert "gpus" in out and "backend" in out


def test_doctor_masks_the_api_key_and_flags_leftover_handoff_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv("WANDB_API_KEY", key)
    monkeypatch.setenv("WANDB_RUN_ID", "stale123")
    result = CliRunner().invoke(main, ["doctor", "--no-network"])
    assert key not in result.output
    assert "0123…4567 (40 chars)" in result.output
    assert "WARN  WANDB_RUN_ID" in result.output
    assert "unset WANDB_RUN_ID" in result.output


def test_doctor_fails_with_advice_when_the_backend_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    result = CliRunner().invoke(main, ["doctor", "--timeout", "2"])
    assert result.exit_code == 1
    assert "FAIL  backend" in result.output
    assert "WANDB_MODE=offline" in result.output


def test_doctor_reaches_the_local_server(wandb_server: Any) -> None:
    result = CliRunner().invoke(main, ["doctor"])
    assert f"{wandb_server.url} reachable" in result.output


def test_doctor_reads_the_tested_range_from_the_release_table(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ultralytics")
    from wandb_ddp_bridge.integrations.ultralytics import releases

    monkeypatch.setattr(releases, "OLDEST_TESTED", "1.0.0")
    monkeypatch.setattr(releases, "NEWEST_TESTED", "1.0.1")
    result = CliRunner().invoke(main, ["doctor", "--no-network"])
    line = next(ln for ln in result.output.splitlines() if ln[8:].startswith("ultralytics "))
    assert line.lstrip().startswith("WARN"), result.output
    assert "tested with 1.0.0 - 1.0.1" in result.output


def test_doctor_reads_the_wandb_floor_from_the_package_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    real = importlib.metadata.requires

    def requires(dist: str) -> list[str] | None:
        return ["wandb>=999.0", "click>=8.1"] if dist == "wandb-ddp-bridge" else real(dist)

    monkeypatch.setattr(importlib.metadata, "requires", requires)
    result = CliRunner().invoke(main, ["doctor", "--no-network"])
    assert "WARN  wandb" in result.output
    assert "tested from 999.0: pip install -U 'wandb>=999.0'" in result.output


def test_doctor_source_holds_no_release_numbers() -> None:
    """Release facts live in integrations/ultralytics/releases.py and the package metadata only."""
    import re

    from wandb_ddp_bridge.tools import doctor

    found = {
        path.name: re.findall(r"\b\d+\.\d+\.\d+\b", path.read_text())
        for path in Path(doctor.__file__).parent.glob("*.py")
    }
    assert len(found) >= 2 and not any(found.values()), found
