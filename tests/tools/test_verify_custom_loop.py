"""A custom training loop (``@tracked_training`` + ``attached()``) logging plain ``loss``/``accuracy`` keys:
``verify`` judges it by the rows its training phase wrote, and its page charts them."""

from __future__ import annotations

import re
from typing import Any

from test_verify import line, verify

from wandb_ddp_bridge import attached, tracked_training, wandb_session
from wandb_ddp_bridge.tools.report import render_page
from wandb_ddp_bridge.tools.verify import Expectations, check_run, from_server

PROJECT = "custom-loop"
EPOCHS = 3


@tracked_training
def train(epochs: int) -> None:
    """No Ultralytics, no metric family: one row per epoch with a loss and an accuracy, and no ``epoch`` key."""
    with attached() as run:
        assert run is not None
        for epoch in range(epochs):
            run.log({"loss": 1.0 / (epoch + 1), "accuracy": 0.5 + 0.1 * epoch})


def run_custom_loop(server: Any) -> str:
    with wandb_session(project=PROJECT, job_type="training") as s:
        s.save_config({"epochs": EPOCHS, "model": "custom"})
        s.log({"data/images": 128, "loss": 9.0})  # pre-training rows are no epochs, whatever their keys
        train(EPOCHS)
        s.log({"test/accuracy": 0.75, "accuracy": 0.75})  # nor are post-training rows
    (run,) = server.runs(project=PROJECT)
    return str(run.path)


def test_a_custom_loop_that_logs_loss_and_accuracy_passes_verify(wandb_server: Any) -> None:
    path = run_custom_loop(wandb_server)
    rows = wandb_server.run(path).history
    assert sum(1 for row in rows if "loss" in row) == EPOCHS + 1  # what the server holds: 1 pre + 3 training

    result = verify(path, "--expect-epochs", str(EPOCHS))

    assert result.exit_code == 0, result.output
    training = line(result.output, "training")
    assert training.lstrip().startswith("PASS")
    assert f"{EPOCHS} of {EPOCHS} epochs logged; training rows found by phase markers" in training


def test_one_epoch_too_many_expected_names_the_missing_one(wandb_server: Any) -> None:
    """The pre- and post-training rows are not counted as epochs: expecting one more epoch fails."""
    path = run_custom_loop(wandb_server)

    result = verify(path, "--expect-epochs", str(EPOCHS + 1))

    assert result.exit_code == 1, result.output
    assert f"{EPOCHS} of {EPOCHS + 1} epochs logged (missing epoch {EPOCHS + 1})" in line(result.output, "training")


def test_the_custom_loops_page_charts_loss_and_accuracy_per_epoch(wandb_server: Any) -> None:
    path = run_custom_loop(wandb_server)
    report = check_run(from_server(path, wandb_server), Expectations(epochs=EPOCHS))

    html = render_page(report)

    charts = dict(re.findall(r'<figure class="chart" data-metric="([^"]+)" data-points="(\d+)">', html))
    assert charts == {"accuracy": str(EPOCHS), "loss": str(EPOCHS)}
    # the values the server recorded for the training rows, not the pre/post rows (9.0 and 0.75)
    logged = [row["loss"] for row in wandb_server.run(path).history if "loss" in row][1:]
    assert [float(v) for v in re.findall(r"loss · epoch \d+: ([\d.]+)</title>", html)] == [round(v, 4) for v in logged]
