"""Scripts launched by torchrun (one node and two simulated nodes), and an orchestrator whose handoff
launches a torchrun child that calls attach(). Real gloo ranks on CPU, real wandb SDK, local server."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import free_port, local_torchrun_args

from wandb_ddp_bridge import wandb_session

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).with_name("ddp_loop.py")


def _torchrun(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "torch.distributed.run", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _probes(probe_dir: Path) -> dict[int, dict[str, Any]]:
    return {p["rank"]: p for p in (json.loads(f.read_text()) for f in probe_dir.glob("rank*.json"))}


def _env(tmp_path: Path, project: str) -> dict[str, str]:
    probe_dir = tmp_path / "probes"
    probe_dir.mkdir()
    return dict(os.environ, BRIDGE_PROJECT=project, BRIDGE_PROBE_DIR=str(probe_dir), OMP_NUM_THREADS="1")


def _wait(proc: subprocess.Popen[str], timeout: float = 240) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-4000:]
    return out


def _assert_one_run_three_sessions(server: Any, project: str, epochs: int) -> Any:
    runs = server.runs()
    assert len(runs) == 1, [(r.project, r.id) for r in runs]
    run = runs[0]
    assert run.project == project
    assert run.created_count == 1
    assert [s.resume_mode for s in run.sessions] == ["none", "must", "must"]
    assert all(s.complete and s.exit_code == 0 for s in run.sessions)
    assert not run.overlapping
    starts = [(s.started, s.ended) for s in run.sessions]
    assert all(a[1] is not None and a[1] <= b[0] for a, b in itertools.pairwise(starts))
    epochs_logged = [row["epoch"] for row in run.history if "epoch" in row]
    assert epochs_logged == list(range(epochs))
    return run


def test_single_node_torchrun_script_with_session_on_every_rank(wandb_server: Any, tmp_path: Path) -> None:
    env = _env(tmp_path, "torchrun-one-node")
    proc = _torchrun(
        [
            *local_torchrun_args(),
            str(SCRIPT),
            "session",
        ],
        env,
    )
    _wait(proc)
    run = _assert_one_run_three_sessions(wandb_server, "torchrun-one-node", epochs=3)
    assert run.config["config"]["rank_count"] == 2
    assert run.history[-1]["final/score"] == 1.0
    probes = _probes(tmp_path / "probes")
    assert probes[0]["run_id"] == run.id
    assert probes[1] == {"rank": 1, "local_rank": 1, "wandb_imported": False, "run_id": None}


def test_two_nodes_only_global_rank_zero_touches_wandb(wandb_server: Any, tmp_path: Path) -> None:
    env = _env(tmp_path, "torchrun-two-nodes")
    endpoint = f"127.0.0.1:{free_port()}"
    agents = [
        _torchrun(
            [
                "--nnodes",
                "2",
                "--node_rank",
                str(node),
                "--nproc_per_node",
                "2",
                "--rdzv_backend",
                "c10d",
                "--rdzv_endpoint",
                endpoint,
                "--rdzv_id",
                "bridge-test",
                str(SCRIPT),
                "session",
            ],
            env,
        )
        for node in (0, 1)
    ]
    for agent in agents:
        _wait(agent)
    run = _assert_one_run_three_sessions(wandb_server, "torchrun-two-nodes", epochs=3)
    probes = _probes(tmp_path / "probes")
    assert sorted(probes) == [0, 1, 2, 3]
    main = [p for p in probes.values() if p["wandb_imported"]]
    assert [p["rank"] for p in main] == [0] and main[0]["run_id"] == run.id
    # the other node's local rank 0 is not the main process
    other_local_zero = [p for p in probes.values() if p["local_rank"] == 0 and p["rank"] != 0]
    assert len(other_local_zero) == 1 and not other_local_zero[0]["wandb_imported"]


def test_orchestrator_handoff_launches_torchrun_child_that_attaches(wandb_server: Any, tmp_path: Path) -> None:
    env_extra = _env(tmp_path, "orchestrated")
    with wandb_session(project="orchestrated") as s:
        s.save_config({"stage": "orchestrator"})
        with s.handoff():
            env = dict(os.environ, BRIDGE_PROBE_DIR=env_extra["BRIDGE_PROBE_DIR"], OMP_NUM_THREADS="1")
            _wait(
                _torchrun(
                    [
                        *local_torchrun_args(),
                        str(SCRIPT),
                        "attach",
                    ],
                    env,
                )
            )
        s.log({"final/score": 2.0})
        run_id = s.id
    run = _assert_one_run_three_sessions(wandb_server, "orchestrated", epochs=3)
    assert run.id == run_id
    probes = _probes(tmp_path / "probes")
    assert probes[0]["run_id"] == run_id and probes[1]["run_id"] is None and not probes[1]["wandb_imported"]
