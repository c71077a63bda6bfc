"""`wandb-ddp-bridge verify` against the local server, on runs built directly with the wandb SDK."""

from __future__ import annotations

import time
from typing import Any

import pytest
from click.testing import CliRunner

from wandb_ddp_bridge.cli import main
from wandb_ddp_bridge.verify import ArtifactInfo, Expectations, RunEvidence, check_run

PROJECT = "verify-tests"


def _set_markers(run: Any, markers: dict[str, float], *names: str) -> None:
    for name in names:
        markers[name] = time.time()
    run.summary["bridge_phases"] = dict(markers)


def make_run(*, epochs: tuple[int, ...] = (1, 2), post: bool = True, name: str = "job") -> str:
    """The three phases the way the bridge writes them: create, resume for training, resume for post."""
    import wandb

    markers: dict[str, float] = {}
    run = wandb.init(project=PROJECT, name=name, group="grp", config={"lr": 0.01, "epochs": 2})
    _set_markers(run, markers, "pre_start")
    art = wandb.Artifact("config", "config")
    with art.new_file("config.yaml") as fh:
        fh.write("lr: 0.01\n")
    run.log_artifact(art)
    _set_markers(run, markers, "pre_end", "training_start")
    run_id, entity = run.id, run.entity
    run.finish()
    run = wandb.init(project=PROJECT, id=run_id, resume="must")
    for epoch in epochs:
        run.log({"epoch": epoch, "train/box_loss": 1.0 / epoch, "metrics/mAP50": 0.1 * epoch})
    run.finish()
    if post:
        run = wandb.init(project=PROJECT, id=run_id, resume="must")
        _set_markers(run, markers, "training_end", "post_start")
        time.sleep(1.1)  # the server reports artifact times in whole seconds
        best = wandb.Artifact("best", "model")
        with best.new_file("best.pt") as fh:
            fh.write("weights")
        run.log_artifact(best)
        _set_markers(run, markers, "post_end")
        run.finish()
    return f"{entity}/{PROJECT}/{run_id}"


def verify(*args: str) -> Any:
    return CliRunner().invoke(main, ["verify", *args], catch_exceptions=False)


def line(output: str, check: str) -> str:
    """The table line of one check (columns: status, check name, detail)."""
    return next(ln for ln in output.splitlines() if ln[8:].startswith(check + "  ") or ln[8:] == check)


def test_verify_passes_on_a_run_with_all_three_phases(wandb_server: Any) -> None:
    path = make_run()
    result = verify(path, "--expect-epochs", "2", "--expect-artifact", "best")
    assert result.exit_code == 0, result.output
    assert "verification PASSED" in result.output
    assert "FAIL" not in result.output
    assert "best (model)" in line(result.output, "post phase")


def test_verify_fails_on_a_run_missing_its_post_phase(wandb_server: Any) -> None:
    path = make_run(post=False)
    result = verify(path, "--expect-epochs", "2", "--expect-artifact", "best")
    assert result.exit_code == 1, result.output
    post = line(result.output, "post phase")
    assert post.lstrip().startswith("FAIL")
    assert "never resumed after training" in post
    assert "missing best" in line(result.output, "artifacts")


def test_verify_fails_when_a_second_run_appears_in_the_project(wandb_server: Any) -> None:
    import wandb

    path = make_run()
    other = wandb.init(project=PROJECT, name="job")  # the "multiple runs" symptom
    other.log({"train/box_loss": 1.0})
    other_id = other.id
    other.finish()
    result = verify(path, "--expect-epochs", "2")
    assert result.exit_code == 1, result.output
    siblings = line(result.output, "sibling runs")
    assert siblings.lstrip().startswith("FAIL")
    assert other_id in siblings and "same name" in siblings


def test_verify_fails_on_missing_epochs_and_names_them(wandb_server: Any) -> None:
    path = make_run(epochs=(1, 3))
    result = verify(path, "--expect-epochs", "3")
    assert result.exit_code == 1, result.output
    training = line(result.output, "training")
    assert training.lstrip().startswith("FAIL")
    assert "2 of 3 epochs logged (missing epoch 2)" in training


def test_verify_fails_on_an_unknown_run(wandb_server: Any) -> None:
    make_run(post=False)
    result = verify(f"{wandb_server.entity}/{PROJECT}/doesnotexist")
    assert result.exit_code == 1
    assert "FAIL  one run" in result.output


def test_verify_rejects_a_malformed_path() -> None:
    result = CliRunner().invoke(main, ["verify", "only-a-project"])
    assert result.exit_code == 2
    assert "ENTITY/PROJECT/RUN_ID" in result.output


def test_a_secret_left_in_the_config_fails_the_secrets_check() -> None:
    evidence = RunEvidence(
        path="e/p/r",
        source="test",
        found=True,
        state="finished",
        config={"cfg": {"wandb": {"api_key": "x" * 40}}},
        history=[{"epoch": 1, "train/loss": 1.0}],
        artifacts=[ArtifactInfo("config", "config"), ArtifactInfo("best", "model")],
        siblings=[],
    )
    report = check_run(evidence, Expectations(epochs=1, artifacts=("best",)))
    secrets = next(c for c in report.checks if c.name == "secrets")
    assert secrets.ok is False and "cfg.wandb.api_key" in secrets.detail
    assert not report.passed


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"epoch": 1, "train/loss": 1}, {"epoch": 2, "metrics/mAP50": 0}], [1, 2]),
        (
            [{"_step": 1, "train/loss": 1}, {"_step": 2, "train/loss": 1}],
            [1, 2],
        ),  # old releases: step=epoch+1
        ([{"_step": 0, "other": 1}], []),
    ],
)
def test_epochs_are_read_from_the_epoch_key_or_the_old_step(
    rows: list[dict[str, Any]], expected: list[int]
) -> None:
    from wandb_ddp_bridge.verify import epochs_logged

    assert epochs_logged(rows) == expected
