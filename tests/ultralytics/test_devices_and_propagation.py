"""Settings that reach Ultralytics only through the bridge, end to end on the local server:

* ``devices`` in the session config becomes Ultralytics' ``device`` (``h.train`` gets none), in-process and
  through the DDP launcher on the CPU rig;
* the server's URL, API key, mode and an explicit entity reach the DDP worker that logs the epochs only
  through the handoff (``wandb_server_unexported``: the test's environment has none of them);
* tags, notes and job type set at the start survive the finish and both resumes; summary writes after
  training land on the run;
* a training that fails ends the run failed, with the reason, and keeps the epochs logged before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
ENTITY = "team-x"
TRAIN_LOSS = "train/box_loss"


def _epochs(run: Any) -> list[int]:
    return [int(row["epoch"]) for row in run.history if TRAIN_LOSS in row]


def _assert_settings_landed(run: Any, run_id: str) -> None:
    assert run.path == f"{ENTITY}/propagation/{run_id}"
    assert run.created_count == 1 and not run.overlapping, run.sessions
    assert all(x.complete and x.exit_code == 0 for x in run.sessions), run.sessions
    assert _epochs(run) == [1, 2], run.history
    assert run.config["ultralytics"]["device"] == "cpu", run.config.get("ultralytics")
    assert sorted(run.tags) == ["cpu", "propagation"]
    assert (run.notes, run.job_type) == ("settings through the handoff", "train-detector")
    assert (run.summary["pre/images"], run.summary["post/score"], run.summary["post/f1"]) == (8, 1.0, 0.5)


def _run_scenario(tmp_path: Path, server: Any, *, ddp: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "WANDB_SERVICE")}
    for name in ("WANDB_BASE_URL", "WANDB_API_KEY", "WANDB_MODE", "WANDB_ENTITY"):
        assert name not in env  # only the session's arguments know the server
    env.update(
        YOLO_CONFIG_DIR=str(tmp_path / "yolo-config"),
        YOLO_OFFLINE="true",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p),
    )
    options = {
        "workdir": str(tmp_path),
        "project": "propagation",
        "entity": ENTITY,
        "base_url": server.base_url,
        "api_key": server.api_key,
        "ddp": ddp,
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "propagation_scenario.py"), json.dumps(options)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT ") :]))


def test_config_devices_and_server_settings_reach_the_ddp_workers(wandb_server_unexported: Any, tmp_path: Path) -> None:
    result = _run_scenario(tmp_path, wandb_server_unexported, ddp=True)
    assert result["device"] == "cpu"
    [run] = wandb_server_unexported.runs()
    _assert_settings_landed(run, result["id"])
    # PRE (created), rank 0 of the DDP launch (resumed with what the handoff exported), POST (resumed)
    assert [x.resume_mode for x in run.sessions] == ["none", "must", "must"]


def test_config_devices_and_server_settings_in_process(wandb_server_unexported: Any, tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE))
    from propagation_scenario import run as run_scenario

    result = run_scenario(
        tmp_path,
        project="propagation",
        entity=ENTITY,
        base_url=wandb_server_unexported.base_url,
        api_key=wandb_server_unexported.api_key,
        ddp=False,
    )
    assert result["device"] == "cpu"
    [run] = wandb_server_unexported.runs()
    _assert_settings_landed(run, result["id"])


def test_a_failing_training_ends_the_run_failed_with_its_reason(wandb_server: Any, tmp_path: Path) -> None:
    import ul_rig
    from ultralytics import YOLO

    from wandb_ddp_bridge import wandb_session

    def fail_in_epoch_2(trainer: Any) -> None:
        if int(trainer.epoch) + 1 == 2:
            raise RuntimeError("boom in epoch 2")

    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_epoch_end", fail_in_epoch_2)
    kwargs = ul_rig.train_kwargs(ul_rig.make_dataset(tmp_path / "dataset"), tmp_path / "runs", device="cpu")
    with (
        pytest.raises(RuntimeError, match="boom in epoch 2"),
        wandb_session(project="failing", fast_path="never") as session,
        session.handoff(model) as handoff,
    ):
        handoff.train(**kwargs)
    [run] = wandb_server.runs()
    assert run.created_count == 1 and not run.overlapping and all(x.complete for x in run.sessions)
    # PRE ended clean; training's attachment closed as failed; the post-training resume ended the run failed
    assert [x.exit_code for x in run.sessions] == [0, 1, 1], run.sessions
    assert run.state == "failed"
    assert run.summary["bridge_failed"] is True
    assert run.summary["bridge_failure"] == "RuntimeError: boom in epoch 2"
    assert _epochs(run) == [1]  # the epoch finished before the failure is there, with its number
