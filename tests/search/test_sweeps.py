"""W&B sweeps whose trials are bridged sessions (function agent), asserted on the local server's records:
one run per trial, linked to the sweep, holding its parameters; a session that disagrees with the sweep's
project is refused before any run exists; a session ended by preemption says so on its run, for the requeue."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from search_runner import run_script

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.preemption import Preempted
from wandb_ddp_bridge.testing import LocalWandbServer

GRID = {"lr": {"values": [0.1, 0.2]}, "batch": {"value": 8}}


def _sweep_runs(server: LocalWandbServer, sweep: str, project: str = "search") -> list[Any]:
    return sorted((r for r in server.runs("e", project) if r.sweep == sweep), key=lambda r: r.config["lr"])


def test_each_trial_session_adopts_its_sweep_run(wandb_server: LocalWandbServer, tmp_path: Path) -> None:
    result = run_script(
        "sweep_scenario.py",
        tmp_path,
        {"project": "search", "entity": "e", "trial": "plain", "parameters": GRID, "count": 5},
    )
    runs = _sweep_runs(wandb_server, result["sweep"])
    assert len(wandb_server.runs()) == 2 and [r.config["lr"] for r in runs] == [0.1, 0.2]
    assert [t["id"] for t in result["trials"]] == [r.id for r in runs]  # the agent's run, not a second one
    for trial in result["trials"]:
        assert trial["config"]["batch"] == 8 and trial["config"] == trial["wandb_config"]
    for run in runs:
        assert run.state == "finished" and run.created_count == 1 and run.exit_code == 0
        assert run.summary["pre/lr"] == run.config["lr"] and run.summary["post/score"] == 1.0


def test_an_explicit_run_id_gives_way_to_the_sweeps_assignment(wandb_server: LocalWandbServer, tmp_path: Path) -> None:
    options = {"project": "search", "entity": "e", "trial": "plain", "parameters": {"lr": {"values": [0.3]}}}
    result = run_script("sweep_scenario.py", tmp_path, {**options, "run_id": "mine-42"})
    [run] = wandb_server.runs()
    assert run.sweep == result["sweep"] and run.id == result["trials"][0]["id"] != "mine-42"


def test_a_session_in_another_project_than_the_sweeps_is_refused(
    wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    options = {"project": "search", "entity": "e", "trial": "plain", "parameters": {"lr": {"values": [0.1]}}}
    result = run_script("sweep_scenario.py", tmp_path, {**options, "session_project": "elsewhere", "count": 1})
    [trial] = result["trials"]
    assert trial["error"].startswith("ConfigError: wandb_session(project='elsewhere')")
    assert "whose project is 'search'" in trial["error"]
    assert wandb_server.runs() == []  # refused before any run was opened


def test_tracked_training_is_the_agents_function(wandb_server: LocalWandbServer, tmp_path: Path) -> None:
    result = run_script(
        "sweep_scenario.py", tmp_path, {"project": "search", "entity": "e", "trial": "decorated", "parameters": GRID}
    )
    runs = _sweep_runs(wandb_server, result["sweep"])
    assert [r.config["lr"] for r in runs] == [0.1, 0.2] and len(wandb_server.runs()) == 2
    for run in runs:
        assert run.state == "finished" and run.summary["train/loss"] == run.config["lr"]
        assert run.created_count == 1


def test_a_session_ended_by_preemption_marks_its_last_writer_session_preempting(
    wandb_server: LocalWandbServer, tmp_path: Path
) -> None:
    # what the sweep's requeue reads: the session that ends the run says the run comes back
    s = wandb_session(project="preempted", dir=str(tmp_path), fast_path="never")
    with pytest.raises(Preempted), s, s.handoff():
        raise Preempted(signal.SIGTERM, received_at=time.monotonic())
    (run,) = wandb_server.runs(project="preempted")
    assert [(x.preempting, x.exit_code) for x in run.sessions] == [(False, 0), (True, 143)]
