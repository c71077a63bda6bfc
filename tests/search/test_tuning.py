"""Ultralytics' tuner inside a handoff (``h.tune`` and a plain ``model.tune``), 2 iterations of real training on
CPU, asserted on the local server: 1 search run plus 2 grouped trial runs, the table and the best."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from search_runner import run_script

from wandb_ddp_bridge.integrations.ultralytics.tuning import JOB_TYPE
from wandb_ddp_bridge.testing import LocalWandbServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("plain", [pytest.param(False, id="h.tune"), pytest.param(True, id="model.tune")])
def test_two_tuner_iterations_are_two_grouped_runs_beside_the_search(
    wandb_server: LocalWandbServer, tmp_path: Path, plain: bool
) -> None:
    result = run_script("tune_scenario.py", tmp_path, {"project": "tune", "plain": plain})
    runs = {run.id: run for run in wandb_server.runs(project="tune")}
    search = runs.pop(result["id"])
    assert len(runs) == 2 and search.created_count == 1 and search.state == "finished"
    trials = sorted(runs.values(), key=lambda r: r.config["tune_iteration"])
    assert [t.config["tune_iteration"] for t in trials] == [1, 2]
    assert [[i, run_id] for i, run_id, _, _ in result["trials"]] == [[1, trials[0].id], [2, trials[1].id]]
    for trial in trials:
        assert (trial.group, trial.job_type, trial.state, trial.exit_code) == (search.id, JOB_TYPE, "finished", 0)
        assert trial.config["ultralytics"]["lr0"] == trial.config["lr0"]  # the iteration's hyperparameter trained
        assert [row["epoch"] for row in trial.history if "train/box_loss" in row] == [1]
        assert "fitness" in trial.summary and trial.created_count == 1
    table = search.summary["tune/iterations"]
    assert table["_type"] == "table-file" and table["nrows"] == 2
    best = next(t for t in trials if t.config["tune_iteration"] == search.summary["tune/best_iteration"])
    assert search.summary["tune/best_fitness"] == pytest.approx(best.summary["fitness"])
    assert search.summary["tune/best_hyperparameters"]["lr0"] == pytest.approx(best.config["lr0"], rel=1e-3)
    [artifact] = [a for a in search.artifacts if a.type == "hyperparameters"]
    assert artifact.entries[0].path == "best_hyperparameters.yaml"
    assert [row["pre/ready"] for row in search.history if "pre/ready" in row] == [1]
    assert "post/best_fitness" in search.history[-1]
    assert json.loads(json.dumps(result["best_hyperparameters"]))["lr0"] == pytest.approx(best.config["lr0"], rel=1e-3)


def test_failed_iterations_end_failed_and_the_search_goes_on(wandb_server: LocalWandbServer, tmp_path: Path) -> None:
    result = run_script("tune_scenario.py", tmp_path, {"project": "tune", "break_iterations": True, "group": "g1"})
    runs = {run.id: run for run in wandb_server.runs(project="tune")}
    search = runs.pop(result["id"])
    assert search.state == "finished" and search.exit_code == 0
    assert sorted(r.config["tune_iteration"] for r in runs.values()) == [1, 2], "both iterations were tried"
    for trial in runs.values():
        assert (trial.state, trial.exit_code, trial.group) == ("failed", 1, "g1")  # the session's own group
    assert [failed for *_, failed in result["trials"]] == [True, True]
    assert search.summary["tune/iterations"]["nrows"] == 2
