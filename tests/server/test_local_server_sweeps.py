"""The local server's sweep protocol, driven by the unmodified wandb SDK: ``wandb.sweep``, ``wandb.agent``
(function and CLI agents) and ``wandb.Api``'s sweep reads, asserted on the server's records."""

from __future__ import annotations

import json

import pytest
from local_server_clients import run_client

from wandb_ddp_bridge.testing import LocalWandbServer

pytest.importorskip("wandb")

FUNCTION_AGENT = """
import json, sys, wandb
from wandb.agents import pyagent
pyagent.Agent.HEARTBEAT_SLEEP_SECONDS = 0.2
count = int(sys.argv[2]) if len(sys.argv) > 2 else None
# a configuration creates the sweep; a path joins an existing one
joining = sys.argv[1].startswith("e/p/")
sweep_id = sys.argv[1] if joining else wandb.sweep(json.loads(sys.argv[1]), entity="e", project="p")
def trial():
    run = wandb.init()
    run.log({"loss": float(run.config["lr"]) * 10})
    run.finish()
wandb.agent(sweep_id, function=trial, count=count)
print("SWEEP", sweep_id)
"""


def _sweep_id(out: str) -> str:
    return next(line.split()[1] for line in out.splitlines() if line.startswith("SWEEP "))


def test_grid_sweep_runs_each_point_once_and_links_runs_to_the_sweep(wandb_server: LocalWandbServer) -> None:
    config = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.2, 0.3]}, "bs": {"value": 4}}}
    sweep_id = _sweep_id(run_client(FUNCTION_AGENT, json.dumps(config)))
    runs = wandb_server.runs("e", "p")
    assert sorted(r.config["lr"] for r in runs) == [0.1, 0.2, 0.3]
    assert {r.config["bs"] for r in runs} == {4}
    assert {r.sweep for r in runs} == {sweep_id}
    assert all(r.state == "finished" and r.created_count == 1 for r in runs)
    assert sorted(r.summary["loss"] for r in runs) == pytest.approx([1.0, 2.0, 3.0])
    out = run_client(
        """
import sys, wandb
api = wandb.Api()
sweep = api.sweep(f"e/p/{sys.argv[1]}")
print("STATE", sweep.state, "RUNS", sorted(r.id for r in sweep.runs), "EXPECTED", sweep.expected_run_count)
print("LISTED", [s.id for s in api.project("p", entity="e").sweeps()])
run = api.run(f"e/p/{sweep.runs[0].id}")
print("LINK", run.sweep.id, run.sweep.config["method"])
""",
        sweep_id,
    )
    assert f"STATE FINISHED RUNS {sorted(r.id for r in runs)} EXPECTED 3" in out
    assert f"LISTED {[sweep_id]}" in out
    assert f"LINK {sweep_id} grid" in out
    assert wandb_server.unknown_operations == [] and wandb_server.events("server_error") == []


def test_random_sweep_honours_count_and_the_run_cap(wandb_server: LocalWandbServer) -> None:
    config = {
        "method": "random",
        "run_cap": 2,
        "parameters": {"lr": {"distribution": "uniform", "min": 0.001, "max": 0.01}, "opt": {"values": ["a", "b"]}},
    }
    run_client(FUNCTION_AGENT, json.dumps(config), "1")
    [run] = wandb_server.runs("e", "p")
    assert 0.001 <= run.config["lr"] <= 0.01 and run.config["opt"] in ("a", "b")
    run_client(FUNCTION_AGENT, f"e/p/{run.sweep}", "5")  # a second agent: the cap leaves it one trial
    runs = wandb_server.runs("e", "p")
    assert len(runs) == 2 and {r.sweep for r in runs} == {run.sweep}


def test_bayes_is_refused_with_a_message_that_names_the_local_server(wandb_server: LocalWandbServer) -> None:
    out = run_client(
        """
import wandb
try:
    config = {"method": "bayes", "metric": {"name": "loss"}, "parameters": {"lr": {"values": [1]}}}
    wandb.sweep(config, entity="e", project="p")
except Exception as error:
    print("ERROR", error)
"""
    )
    assert "ERROR" in out and "'bayes' is not implemented by the local W&B server" in out
    assert wandb_server.runs() == []
