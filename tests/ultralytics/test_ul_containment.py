"""A W&B logging callback that raises never discards a training; any other error still fails the run.

Injected failures: the bridge's own logger (in this process) and Ultralytics' native W&B callback (in a
clean process), each raising at ``on_fit_epoch_end`` (after logging the epoch) and at ``on_train_end`` (before
logging anything: its model artifact is lost, nothing else).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from ul_checks import assert_one_run_with_every_phase, run_scenario_subprocess
from ul_scenario import inject_wandb_failures, run_scenario

from wandb_ddp_bridge.integrations.ultralytics import releases, runlog
from wandb_ddp_bridge.integrations.ultralytics.containment import LOGGING_ERRORS_KEY

pytestmark = pytest.mark.slow
PROJECT = "ul-containment"
EVENTS = ("on_fit_epoch_end", "on_train_end")


def _assert_recorded(run: Any, who: str) -> list[dict[str, Any]]:
    errors = [e for e in run.summary[LOGGING_ERRORS_KEY] if "injected" in e["error"]]
    assert sorted(e["event"] for e in errors) == sorted(EVENTS), run.summary[LOGGING_ERRORS_KEY]
    assert all(who in e["callback"] and e["release"] == releases.installed() for e in errors), errors
    assert run.summary.get("bridge_failed") is None, run.summary  # the run ended well
    return errors


def test_the_bridge_logger_failing_never_discards_the_training(
    wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("fit_epoch_end", "train_end"):
        monkeypatch.setattr(runlog.EpochLogger, name, getattr(runlog.EpochLogger, name))  # undone after the test
    inject_wandb_failures(EVENTS, native=False)
    with caplog.at_level(logging.WARNING, logger="wandb_ddp_bridge"):
        result = run_scenario(tmp_path, project=PROJECT, base_url=wandb_server.base_url, fast_path="never")
    # every phase, every epoch, the POST row and artifact, all sessions with exit code 0
    run = assert_one_run_with_every_phase(wandb_server, result, project=PROJECT, model_artifact=False)
    errors = _assert_recorded(run, "the bridge's Ultralytics logger")
    fit = next(e for e in errors if e["event"] == "on_fit_epoch_end")
    assert fit["count"] == 3, errors  # 2 epochs and the final validation: recorded each time...
    warned = [r.getMessage() for r in caplog.records if "W&B logging failed" in r.getMessage()]
    assert len(warned) == 2, warned  # ...warned once each
    assert all(releases.installed() in message for message in warned), warned


def test_the_native_callback_failing_never_discards_the_training(wandb_server: Any, tmp_path: Path) -> None:
    result, _ = run_scenario_subprocess(
        tmp_path, wandb_server, project=PROJECT, native=True, fast_path="never", fail_wandb=list(EVENTS)
    )
    run = assert_one_run_with_every_phase(wandb_server, result, project=PROJECT, model_artifact=False)
    _assert_recorded(run, "ultralytics.utils.callbacks.wb.")
