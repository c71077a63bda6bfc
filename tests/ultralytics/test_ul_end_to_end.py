"""Real Ultralytics training (yolov8n.yaml, 64 px, 2 epochs, CPU) inside one session, on the local server.

In the pytest process Ultralytics' own W&B callback is always off (it checks for pytest), so the bridge logs
the epochs itself. The native-callback and DDP cases run the same scenario in a clean subprocess. Every
scenario logs 3 PRE history rows: each training keeps every epoch row, in order after them, then the POST row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ul_checks import (
    OneProject,
    assert_one_run_with_every_phase,
    assert_panels_include,
    native_callback_breaks_on_untrained_models,
    run_scenario_subprocess,
)
from ul_rig import TASKS
from ul_scenario import run_scenario

from wandb_ddp_bridge.integrations.ultralytics.containment import LOGGING_ERRORS_KEY
from wandb_ddp_bridge.testing import LocalWandbServer

pytestmark = pytest.mark.slow
PROJECT = "ul-e2e"
NATIVE = [pytest.param(False, id="native-off"), pytest.param(True, id="native-on")]


def _native_crash_contained(run: Any, native: bool) -> None:
    """Where the native callback's on_train_end crashes on an untrained model (8.3.0), the training still
    ended well and the crash is on record; elsewhere no logging error is."""
    errors = run.summary.get(LOGGING_ERRORS_KEY)
    if native and native_callback_breaks_on_untrained_models():
        assert errors and errors[0]["event"] == "on_train_end", run.summary
        assert "curves_results" in errors[0]["error"], errors
    else:
        assert errors is None, errors


def test_in_process_training_lands_in_the_session_run(wandb_server: Any, tmp_path: Path) -> None:
    result = run_scenario(tmp_path, project=PROJECT, base_url=wandb_server.base_url, fast_path="never")
    run = assert_one_run_with_every_phase(wandb_server, result, project=PROJECT)
    epochs = [row["epoch"] for row in run.history if "train/box_loss" in row]
    assert epochs == [1, 2]
    assert "best/metrics/mAP50(B)" in run.summary  # the final validation of best.pt
    assert run.config["ultralytics"]["imgsz"] == 64  # the trainer's arguments, as the native callback does


def test_plain_model_train_inside_the_handoff_is_bridged(wandb_server: Any, tmp_path: Path) -> None:
    # the seed's style: `model.train(...)` in the block; in-process fast path (the run stays open)
    result = run_scenario(tmp_path, project=PROJECT, base_url=wandb_server.base_url, plain_train=True)
    run = assert_one_run_with_every_phase(wandb_server, result, project=PROJECT, sessions=None)
    assert len(run.sessions) <= 3


@pytest.mark.parametrize("native", NATIVE)
def test_in_process_training_in_a_clean_process(wandb_server: Any, tmp_path: Path, native: bool) -> None:
    result, probes = run_scenario_subprocess(tmp_path, wandb_server, project=PROJECT, native=native, fast_path="never")
    run = assert_one_run_with_every_phase(wandb_server, result, project=PROJECT)
    _native_crash_contained(run, native)
    # create, attach for training, resume for POST: all for the same id, nobody else
    assert [(p["id"], p["resume"]) for p in probes] == [
        (None, None),
        (result["pre_id"], "must"),
        (result["pre_id"], "must"),
    ]


def _assert_only_rank_zero_attached(results: dict[str, dict[str, Any]], probes: list[dict[str, Any]]) -> None:
    """Per scenario (project -> result): the parent created and resumed its run, global rank 0 of the workers
    attached to it once, rank 1 never called wandb.init. Matched by project and run id, never by the order
    in which scenarios or processes happened to write their probes."""
    parent = [p for p in probes if p["rank"] is None]
    workers = [p for p in probes if p["rank"] is not None]
    assert {p["project"] for p in parent} == set(results), parent
    for project, result in results.items():
        calls = [(p["id"], p["resume"]) for p in parent if p["project"] == project]
        assert calls == [(None, None), (result["pre_id"], "must")], (project, calls)
    attached = sorted((p["rank"], p["id"], p["resume"]) for p in workers)
    assert attached == sorted(("0", r["pre_id"], "must") for r in results.values()), workers


def test_ddp_training_through_ultralytics_launcher_has_the_native_panels(wandb_server: Any, tmp_path: Path) -> None:
    # The same 2-rank training twice, plots on: native callback on (its own server), then bridged.
    with LocalWandbServer(tmp_path / "native-server") as native_server:
        result, probes = run_scenario_subprocess(
            tmp_path / "native", native_server, project=PROJECT, native=True, ddp=True, plots=True
        )
        native_run = assert_one_run_with_every_phase(native_server, result, project=PROJECT)
        _assert_only_rank_zero_attached({PROJECT: result}, probes)
        _native_crash_contained(native_run, True)
    result, probes = run_scenario_subprocess(tmp_path / "bridged", wandb_server, project=PROJECT, ddp=True, plots=True)
    bridged_run = assert_one_run_with_every_phase(wandb_server, result, project=PROJECT)
    _assert_only_rank_zero_attached({PROJECT: result}, probes)
    assert_panels_include(bridged_run, native_run)


def test_ddp_training_of_every_other_task(wandb_server: Any, tmp_path: Path) -> None:
    tasks = [task for task in TASKS if task != "detect"]
    results, probes = run_scenario_subprocess(
        tmp_path, wandb_server, project=PROJECT, ddp=True, tasks=tasks, images=4, imgsz=32, timeout=290
    )
    assert sorted(run.project for run in wandb_server.runs()) == sorted(f"{PROJECT}-{task}" for task in tasks)
    for task in tasks:
        project = f"{PROJECT}-{task}"
        assert_one_run_with_every_phase(OneProject(wandb_server, project), results[task], project=project)
    _assert_only_rank_zero_attached({f"{PROJECT}-{task}": results[task] for task in tasks}, probes)


def test_seed_style_plain_train_with_the_native_callback(wandb_server: Any, tmp_path: Path) -> None:
    # `model.train()` in the block, Ultralytics' own W&B callback on, the run kept open in-process: old
    # releases' callback finishes the run at train end; the handoff then resumes it for POST.
    result, probes = run_scenario_subprocess(tmp_path, wandb_server, project=PROJECT, native=True, plain_train=True)
    run = assert_one_run_with_every_phase(wandb_server, result, project=PROJECT, sessions=None)
    assert 1 <= len(run.sessions) <= 3
    # the session's create; later inits (if the native callback finished the run) only resume that run
    assert probes[0]["resume"] is None
    assert all((p["id"], p["resume"]) == (result["pre_id"], "must") for p in probes[1:]), probes


def test_a_failing_training_closes_its_attachment_as_failed(wandb_server: Any, tmp_path: Path) -> None:
    import ul_rig
    from ultralytics import YOLO

    from wandb_ddp_bridge import wandb_session

    def fail(trainer: Any) -> None:
        raise RuntimeError("boom in epoch")

    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_epoch_end", fail)
    kwargs = ul_rig.train_kwargs(ul_rig.make_dataset(tmp_path / "dataset"), tmp_path / "runs", device="cpu")
    with (
        pytest.raises(RuntimeError, match="boom in epoch"),
        wandb_session(project=PROJECT, base_url=wandb_server.base_url, fast_path="never") as session,
        session.handoff(model) as handoff,
    ):
        handoff.train(**kwargs)
    [run] = wandb_server.runs()
    assert run.created_count == 1 and not run.overlapping
    # a user callback's plain error is no W&B logging error: the training session failed, and so did the run
    assert [s.exit_code for s in run.sessions] == [0, 1, 1], run.sessions
    assert all(s.complete for s in run.sessions)
    assert run.summary["bridge_failed"] is True and LOGGING_ERRORS_KEY not in run.summary
