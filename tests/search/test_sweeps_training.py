"""The issue's "done when": a grid sweep of 2 trials, each a bridged Ultralytics training of 2 epochs, in the
agent's process and through Ultralytics' DDP launcher (the rig's 2 gloo ranks on CPU), ends as exactly 2
finished runs of the sweep, each with its own ``lr0`` in config and in the trainer's arguments, its epochs
once each, and its post-training row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from search_runner import run_script

from wandb_ddp_bridge.testing import LocalWandbServer

pytestmark = pytest.mark.slow
LRS = [0.01, 0.02]


def _assert_two_trainings(server: LocalWandbServer, result: dict[str, Any]) -> None:
    runs = sorted(server.runs(), key=lambda r: r.config["lr0"])
    assert [r.config["lr0"] for r in runs] == LRS and {r.sweep for r in runs} == {result["sweep"]}
    assert sorted(t["id"] for t in result["trials"]) == sorted(r.id for r in runs)
    for run in runs:
        assert run.state == "finished" and run.exit_code == 0 and run.created_count == 1
        assert run.config["ultralytics"]["lr0"] == run.config["lr0"]  # the trainer got the sweep's value
        epochs = [row["epoch"] for row in run.history if "train/box_loss" in row]
        assert epochs == [1, 2]
        assert [row["pre/lr0"] for row in run.history if "pre/lr0" in row] == [run.config["lr0"]]
        assert [row["post/lr0"] for row in run.history if "post/lr0" in row] == [run.config["lr0"]]
        assert not run.overlapping


@pytest.mark.parametrize("ddp", [pytest.param(False, id="in-process"), pytest.param(True, id="ddp")])
def test_a_grid_sweep_of_two_trainings_ends_as_two_runs_of_the_sweep(
    wandb_server: LocalWandbServer, tmp_path: Path, ddp: bool
) -> None:
    options = {"project": "search", "entity": "e", "trial": "yolo", "ddp": ddp, "parameters": {"lr0": {"values": LRS}}}
    result = run_script("sweep_scenario.py", tmp_path, {**options, "count": 2})
    _assert_two_trainings(wandb_server, result)


def test_the_cli_agents_program_adopts_the_assigned_run(wandb_server: LocalWandbServer, tmp_path: Path) -> None:
    options = {"project": "search", "entity": "e", "program": True, "parameters": {"lr0": {"values": LRS}}}
    result = run_script("sweep_scenario.py", tmp_path, {**options, "count": 2})
    assert result["agent_exit"] == 0
    assert len(result["wins"]) == 2, "each program's run_id='auto' gave way to the agent's run, said in a debug line"
    result["trials"] = [{"id": r.id} for r in wandb_server.runs()]  # the programs' runs: checked to be the sweep's
    _assert_two_trainings(wandb_server, result)


def test_a_preempted_trial_is_requeued_and_continues_its_run(wandb_server: LocalWandbServer, tmp_path: Path) -> None:
    options = {"project": "search", "entity": "e", "program": True, "preempt": True}
    result = run_script(
        "sweep_scenario.py", tmp_path, {**options, "parameters": {"lr0": {"values": [0.01]}}, "count": 2}
    )
    [run] = wandb_server.runs()
    assert run.sweep == result["sweep"] and run.config["lr0"] == 0.01
    assert (run.created_count, run.resumed_count) == (1, 1), "requeued into the same run, not a new one"
    assert [event.detail["run"] for event in wandb_server.events("sweep_requeued")] == [run.id]
    assert [s.exit_code for s in run.sessions][-1] == 0 and run.state == "finished"
    assert run.sessions[0].preempting and run.sessions[0].exit_code == 143
    epochs = [row["epoch"] for row in run.history if "train/box_loss" in row]
    assert epochs == [1, 2], "epoch 1 from the preempted attempt, epoch 2 from the checkpoint's continuation"
    outcomes = [(a["attempt"], a["outcome"]) for a in run.summary["bridge_attempts"]]
    assert outcomes == [(1, "preempted"), (2, "finished")]
