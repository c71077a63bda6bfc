"""Which rows the training phase wrote, and their epochs: by the phase markers, else by Ultralytics' names."""

from __future__ import annotations

import math
from typing import Any

from wandb_ddp_bridge.phases import MARKERS_KEY
from wandb_ddp_bridge.restarts import ATTEMPTS_KEY
from wandb_ddp_bridge.tools.verify import Expectations, RunEvidence, check_run
from wandb_ddp_bridge.tools.verify.training_rows import BY_MARKERS, BY_NAMES, training_rows, training_spans

MARKERS = {"pre_start": 1.0, "pre_end": 10.0, "training_start": 10.0, "training_end": 30.0, "post_start": 30.0}


def test_rows_between_the_training_markers_are_training_rows_whatever_their_keys() -> None:
    history = [
        {"_step": 0, "_timestamp": 5.0, "train/loss": 9.0},  # pre-training, with an Ultralytics name
        {"_step": 1, "_timestamp": 12.0, "loss": 1.0},
        {"_step": 2, "_timestamp": 20.0, "loss": 0.5, "accuracy": 0.9},
        {"_step": 3, "_timestamp": 31.0, "metrics/mAP50": 0.3},  # post-training
    ]
    found = training_rows(history, {MARKERS_KEY: MARKERS})
    assert found.source == BY_MARKERS
    assert [row["_step"] for row in found.rows] == [1, 2]
    assert found.distinct_epochs == (1, 2)


def test_without_markers_ultralytics_names_decide() -> None:
    history = [{"_step": 0, "loss": 1.0}, {"_step": 1, "train/loss": 1.0}, {"_step": 2, "lr/pg0": 0.1}]
    found = training_rows(history, {})
    assert found.source == BY_NAMES
    assert [row["_step"] for row in found.rows] == [1, 2]


def test_rows_without_an_epoch_key_are_counted_in_step_order() -> None:
    """Ultralytics 8.3.0's own callback: no `epoch` key, steps rebased to 0, 1, 2."""
    history = [{"_step": s, "_timestamp": 11.0 + s, "metrics/mAP50(B)": 0.0} for s in (0, 1, 2)]
    assert training_rows(history, {MARKERS_KEY: MARKERS}).distinct_epochs == (1, 2, 3)


def test_when_rows_carry_epochs_a_row_without_one_is_no_epoch() -> None:
    """The bridge's logger: one row per epoch with `epoch`, then a final row of plots and tables."""
    history = [
        {"_step": 0, "_timestamp": 11.0, "epoch": 1, "train/loss": 1.0},
        {"_step": 1, "_timestamp": 12.0, "epoch": 2, "train/loss": 0.5},
        {"_step": 2, "_timestamp": 13.0, "curves/PR": {"_type": "table"}},
    ]
    found = training_rows(history, {MARKERS_KEY: MARKERS})
    assert len(found.rows) == 3
    assert found.epochs == (1, 2, None)


def test_a_restarted_runs_earlier_training_counts_until_the_next_attempt_began() -> None:
    """Attempt 1 was preempted during training (no end marker); attempt 2 resumed and finished."""
    first = {"pre_start": 1.0, "pre_end": 2.0, "training_start": 2.0}
    second = {"pre_start": 50.0, "pre_end": 51.0, "training_start": 51.0, "training_end": 70.0}
    summary = {
        MARKERS_KEY: second,
        ATTEMPTS_KEY: [{"attempt": 1, "phases": first}, {"attempt": 2, "phases": second}],
    }
    assert training_spans(summary) == ((2.0, 50.0), (51.0, 70.0))
    history = [
        {"_step": 0, "_timestamp": 10.0, "loss": 1.0},
        {"_step": 1, "_timestamp": 20.0, "loss": 0.9},
        {"_step": 2, "_timestamp": 50.5, "loss": 7.0},  # attempt 2's pre-training
        {"_step": 3, "_timestamp": 60.0, "loss": 0.8},
    ]
    report = check_run(_evidence(history, summary), Expectations(epochs=3))
    assert report.view.epochs == (1, 2, 3)
    assert report.passed, report.table()


def test_a_training_that_never_ended_is_open_until_now() -> None:
    assert training_spans({MARKERS_KEY: {"pre_start": 1.0, "training_start": 2.0}}) == ((2.0, math.inf),)


def test_the_training_rule_says_when_the_training_phase_logged_nothing() -> None:
    history = [{"_step": 0, "_timestamp": 5.0, "train/loss": 1.0}]  # logged before training began
    report = check_run(_evidence(history, {MARKERS_KEY: MARKERS}), Expectations(epochs=1))
    training = next(c for c in report.checks if c.name == "training")
    assert training.ok is False and "no history row logged during the training phase" in training.detail


def _evidence(history: list[dict[str, Any]], summary: dict[str, Any]) -> RunEvidence:
    return RunEvidence(
        path="e/p/r", source="test", found=True, state="finished", config={"lr": 0.1},
        summary=summary, history=history, siblings=[],
    )  # fmt: skip
