"""The in-process fast path (run kept open) and the full finish/resume path leave equivalent records.

Same scenario twice on one server, in two projects: PRE config/summary/artifact, real training, POST. The
only allowed differences are the number of writer sessions (1 vs 3) and volatile values (times, ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ul_checks import assert_one_run_with_every_phase
from ul_scenario import run_scenario

pytestmark = pytest.mark.slow
VOLATILE = ("_timestamp", "_runtime")


def _shape(run: Any) -> dict[str, Any]:
    """What a user sees of a run, without times and ids."""
    history = [sorted(k for k in row if k not in VOLATILE) for row in run.history]
    epochs = [row.get("epoch") for row in run.history if "epoch" in row]
    artifacts = sorted((a.type, a.name.replace(run.id, "<id>"), a.version_index) for a in run.artifacts)
    phases = run.summary["bridge_phases"]
    return {
        "history_keys": history,
        "epochs": epochs,
        "artifacts": artifacts,
        "config_keys": sorted(run.config),
        "summary_keys": sorted(k for k in run.summary if not k.startswith("_") and k != "bridge_phases"),
        "phase_markers": sorted(k for k in phases if not k.endswith("_seconds")),
        "state": run.state,
    }


def test_fast_path_and_full_path_record_the_same_run(wandb_server: Any, tmp_path: Path) -> None:
    fast = run_scenario(tmp_path / "fast", project="fast", base_url=wandb_server.base_url, fast_path="auto")
    full = run_scenario(tmp_path / "full", project="full", base_url=wandb_server.base_url, fast_path="never")
    fast_run = wandb_server.run(f"fast/{fast['pre_id']}")
    full_run = wandb_server.run(f"full/{full['pre_id']}")
    assert len(fast_run.sessions) == 1 and fast_run.resumed_count == 0  # one writer: no finish/resume at all
    assert [s.resume_mode for s in full_run.sessions] == ["none", "must", "must"]
    assert _shape(fast_run) == _shape(full_run)
    phases = fast_run.summary["bridge_phases"]
    assert phases["pre_start"] <= phases["pre_end"] <= phases["training_start"] < phases["training_end"]
    assert phases["training_end"] <= phases["post_start"] <= phases["post_end"]
    assert phases["training_seconds"] > 0


def test_fast_path_run_passes_every_phase_check(wandb_server: Any, tmp_path: Path) -> None:
    result = run_scenario(tmp_path, project="fast-only", base_url=wandb_server.base_url, fast_path="auto")
    assert_one_run_with_every_phase(wandb_server, result, project="fast-only", sessions=1)
