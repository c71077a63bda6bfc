"""A training script launched by ``torchrun --nproc_per_node 2`` in which every rank runs ``wandb_session`` and
real Ultralytics training (yolov8n.yaml, 64 px, 2 epochs, CPU, gloo), checked on the local server.

Only global rank 0 may touch W&B: one run, every epoch row once (rank 1 logs nothing), PRE and POST data on it.
With the default fast path the run stays open through in-process training (one writer session, see the
``handoff`` module); with ``fast_path="never"`` the writer sessions are PRE (created) -> training -> POST.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import local_torchrun_args, read_init_probes

from wandb_ddp_bridge.tools.datasets import make_detection_dataset

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "yolo_under_torchrun.py"
UL_TESTS = HERE.parent / "ultralytics"  # ul_rig (CPU patches for the ranks) and the wandb.init probe
PROBE = UL_TESTS / "probe"
EPOCHS = 2
TRAIN_LOSS = "train/box_loss"


def _launch(tmp_path: Path, *, project: str, fast_path: str, mode: str = "cooperate") -> dict[str, Any]:
    probes = tmp_path / "probes"
    probes.mkdir()
    env = dict(
        os.environ,
        BRIDGE_PROJECT=project,
        BRIDGE_FAST_PATH=fast_path,
        BRIDGE_UL_MODE=mode,
        BRIDGE_WORKDIR=str(tmp_path),
        BRIDGE_DATA=str(make_detection_dataset(tmp_path / "dataset")),
        BRIDGE_PROBE_DIR=str(probes),
        UL_PROBE_DIR=str(probes),  # sitecustomize: one marker file per wandb.init call, in any process
        PYTHONPATH=os.pathsep.join(p for p in (str(PROBE), str(UL_TESTS), os.environ.get("PYTHONPATH")) if p),
        OMP_NUM_THREADS="1",
        YOLO_OFFLINE="true",
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *local_torchrun_args(),
        str(SCRIPT),
    ]
    proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=200)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]
    ranks = {p["rank"]: p for p in (json.loads(f.read_text()) for f in probes.glob("rank*.json"))}
    inits = read_init_probes(probes)
    return {"ranks": ranks, "inits": inits, "output": output}


def _assert_one_run(server: Any, project: str, launched: dict[str, Any], sessions: list[str]) -> Any:
    runs = server.runs()
    assert [(r.project, r.id) for r in runs] == [(project, runs[0].id)], "a second run was created"
    run = runs[0]
    assert run.created_count == 1
    assert [s.resume_mode for s in run.sessions] == sessions, run.sessions
    assert not run.overlapping, run.sessions
    assert all(s.complete and s.exit_code == 0 for s in run.sessions), run.sessions
    spans = [(s.started, s.ended) for s in run.sessions]
    assert all(a[1] is not None and a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
    assert run.state == "finished"
    assert server.unknown_operations == []

    # every epoch exactly once: rank 1 trained too, but logged nothing
    train_rows = [row for row in run.history if TRAIN_LOSS in row]
    assert [row["epoch"] for row in train_rows] == list(range(1, EPOCHS + 1)), run.history
    assert any(key.startswith("lr/") for key in train_rows[0]), train_rows[0]
    assert sum(1 for row in run.history if "metrics/mAP50(B)" in row) == EPOCHS, run.history
    post = [i for i, row in enumerate(run.history) if "post/score" in row]
    assert len(post) == 1 and post[0] > run.history.index(train_rows[-1]), "POST must come after training"
    assert run.history[post[0]]["post/best_exists"] is True
    assert "best/metrics/mAP50(B)" in run.summary  # the final validation of best.pt, gathered from both ranks
    assert run.summary.get("pre/images") == 8, run.summary
    assert run.config["config"]["world_size"] == 2, run.config
    assert run.config["ultralytics"]["imgsz"] == 64, run.config
    models = [a for a in run.artifacts if a.type == "model"]
    assert [a.name for a in models] == [f"run_{run.id}_model"], [(a.name, a.type) for a in run.artifacts]
    assert any(e.path == "best.pt" for e in models[0].entries), models[0].entries

    # the per-rank probes: only global rank 0 imported wandb and saw the run, at every epoch
    ranks = launched["ranks"]
    assert sorted(ranks) == [0, 1], launched["output"][-4000:]
    assert ranks[0]["wandb_imported"] and ranks[0]["session_run_id"] == run.id
    assert ranks[0]["epochs"] == [[e, run.id] for e in range(1, EPOCHS + 1)]
    assert ranks[1]["wandb_imported"] is False, "rank 1 imported wandb"
    assert ranks[1]["session_run_id"] is None and ranks[1]["holds_run"] is False
    assert ranks[1]["epochs"] == [[e, None] for e in range(1, EPOCHS + 1)]  # rank 1 did train, silently
    assert {p["rank"] for p in launched["inits"]} == {"0"}, launched["inits"]  # no wandb.init but on rank 0
    return run


@pytest.mark.parametrize("mode", ["cooperate", "independent"])
def test_torchrun_script_fast_path_keeps_one_writer_session(wandb_server: Any, tmp_path: Path, mode: str) -> None:
    project = "torchrun-ul-fast"
    launched = _launch(tmp_path, project=project, fast_path="auto", mode=mode)
    # training ran in-process on rank 0: the run stayed open from PRE through POST, one wandb.init in all
    run = _assert_one_run(wandb_server, project, launched, sessions=["none"])
    assert launched["ranks"][0]["holds_run"] is True
    assert [(p["id"], p["resume"]) for p in launched["inits"]] == [(None, None)]
    assert run.summary["bridge_phases"]["training_seconds"] > 0


def test_torchrun_script_without_fast_path_resumes_twice(wandb_server: Any, tmp_path: Path) -> None:
    project = "torchrun-ul-never"
    launched = _launch(tmp_path, project=project, fast_path="never")
    run = _assert_one_run(wandb_server, project, launched, sessions=["none", "must", "must"])
    assert launched["ranks"][0]["holds_run"] is False
    assert [(p["id"], p["resume"]) for p in launched["inits"]] == [(None, None), (run.id, "must"), (run.id, "must")]
    sessions = {a.type: a.session_index for a in run.artifacts}
    assert sessions == {"config": 0, "model": 1}, [(a.name, a.type, a.session_index) for a in run.artifacts]
