"""`wandb-ddp-bridge verify` against the local server, on runs built directly with the wandb SDK."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wandb_ddp_bridge.phases import MARKERS_KEY, marker
from wandb_ddp_bridge.tools.cli import main
from wandb_ddp_bridge.tools.verify import RULES, ArtifactInfo, Expectations, RunEvidence, check_run

PROJECT = "verify-tests"
ROOT = Path(__file__).resolve().parents[2]


def _set_markers(run: Any, markers: dict[str, float] | None, *names: str) -> None:
    if markers is None:  # a run not written through the bridge carries no markers
        return
    for name in names:
        markers[name] = time.time()
    run.summary[MARKERS_KEY] = dict(markers)


def make_run(*, epochs: tuple[int, ...] = (1, 2), post: bool = True, name: str = "job", markers: bool = True) -> str:
    """The three phases the way the bridge writes them: create, resume for training, resume for post."""
    import wandb

    marks: dict[str, float] | None = {} if markers else None
    run = wandb.init(project=PROJECT, name=name, group="grp", config={"lr": 0.01, "epochs": 2})
    _set_markers(run, marks, "pre_start")
    art = wandb.Artifact("config", "config")
    with art.new_file("config.yaml") as fh:
        fh.write("lr: 0.01\n")
    run.log_artifact(art)
    _set_markers(run, marks, "pre_end", "training_start")
    run_id, entity = run.id, run.entity
    run.finish()
    run = wandb.init(project=PROJECT, id=run_id, resume="must")
    for epoch in epochs:
        run.log({"epoch": epoch, "train/box_loss": 1.0 / epoch, "metrics/mAP50": 0.1 * epoch})
    run.finish()
    if post:
        run = wandb.init(project=PROJECT, id=run_id, resume="must")
        _set_markers(run, marks, "training_end", "post_start")
        time.sleep(1.1)  # the server reports artifact times in whole seconds
        best = wandb.Artifact("best", "model")
        with best.new_file("best.pt") as fh:
            fh.write("weights")
        run.log_artifact(best)
        _set_markers(run, marks, "post_end")
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


def test_verify_fails_when_a_training_phase_never_ended(wandb_server: Any) -> None:
    path = make_run(post=False)  # markers: training started, never handed back
    result = verify(path, "--expect-epochs", "2", "--expect-artifact", "best")
    assert result.exit_code == 1, result.output
    post = line(result.output, "post phase")
    assert post.lstrip().startswith("FAIL")
    assert "training started but never ended" in post and "never resumed after training" in post
    assert "missing best" in line(result.output, "artifacts")


def test_verify_passes_a_run_that_was_not_resumed_after_training(wandb_server: Any) -> None:
    """Resuming is optional (the seed guide's checklist): no post phase and nothing after training is fine."""
    path = make_run(post=False, markers=False)
    result = verify(path, "--expect-epochs", "2")
    assert result.exit_code == 0, result.output
    post = line(result.output, "post phase")
    assert post.lstrip().startswith("PASS") and "not resumed after training (optional)" in post


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


def test_verify_cannot_read_an_unknown_run(wandb_server: Any) -> None:
    """Issue 24: a run that is not there is "could not read" (3), not a failed check (1)."""
    make_run(post=False)
    result = verify(f"{wandb_server.entity}/{PROJECT}/doesnotexist")
    assert result.exit_code == 3
    assert f"error: no run {wandb_server.entity}/{PROJECT}/doesnotexist" in result.output


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
def test_epochs_are_read_from_the_epoch_key_or_the_old_step(rows: list[dict[str, Any]], expected: list[int]) -> None:
    from wandb_ddp_bridge.tools.verify import epochs_logged

    assert epochs_logged(rows) == expected


def _evidence(**overrides: Any) -> RunEvidence:
    fields: dict[str, Any] = dict(
        path="e/p/r",
        source="test",
        found=True,
        state="finished",
        config={"lr": 0.1},
        history=[{"epoch": 1, "train/loss": 1.0, "_timestamp": 20.0}],
        artifacts=[ArtifactInfo("config", "config", created=5.0)],
        siblings=[],
    )
    fields.update(overrides)
    return RunEvidence(**fields)


def _markers(*stages: tuple[str, int, str, float]) -> dict[str, Any]:
    return {MARKERS_KEY: {marker(stage, handoff, edge): t for stage, handoff, edge, t in stages}}


def test_a_post_phase_with_nothing_logged_in_it_passes() -> None:
    summary = _markers(
        ("pre", 0, "start", 1.0), ("pre", 0, "end", 10.0), ("training", 1, "start", 10.0),
        ("training", 1, "end", 30.0), ("post", 1, "start", 30.0), ("post", 1, "end", 31.0),
    )  # fmt: skip
    report = check_run(_evidence(summary=summary), Expectations(epochs=1))
    post = next(c for c in report.checks if c.name == "post phase")
    assert post.ok is True and "post-training phase recorded; nothing logged there" in post.detail
    assert report.passed, report.table()
    assert [s.label for s in report.view.stages] == ["pre-training", "training", "post-training"]


def test_a_second_handoff_that_never_ended_fails_the_post_phase() -> None:
    summary = _markers(
        ("pre", 0, "start", 1.0), ("pre", 0, "end", 2.0), ("training", 1, "start", 2.0),
        ("training", 1, "end", 30.0), ("post", 1, "start", 30.0), ("post", 1, "end", 31.0),
        ("training", 2, "start", 31.0),
    )  # fmt: skip
    report = check_run(_evidence(summary=summary), Expectations(epochs=1))
    post = next(c for c in report.checks if c.name == "post phase")
    assert post.ok is False and "training (handoff 2) started but never ended" in post.detail


def test_pre_phase_needs_the_config_or_an_artifact_not_both() -> None:
    only_config = check_run(_evidence(artifacts=[]), Expectations(epochs=1))
    only_artifact = check_run(_evidence(config={}), Expectations(epochs=1))
    neither = check_run(_evidence(config={}, artifacts=[]), Expectations(epochs=1))

    def pre(report: Any) -> Any:
        return next(c for c in report.checks if c.name == "pre phase")

    assert pre(only_config).ok is True and "no artifact before training" in pre(only_config).detail
    assert pre(only_artifact).ok is True and "config (config)" in pre(only_artifact).detail
    assert pre(neither).ok is False


def test_the_session_failure_reason_is_shown_with_the_state() -> None:
    summary = {"bridge_failed": True, "bridge_failure": "RuntimeError: CUDA out of memory"}
    report = check_run(_evidence(state="failed", summary=summary), Expectations(epochs=1))
    state = next(c for c in report.checks if c.name == "state")
    assert state.ok is False and "CUDA out of memory" in state.detail


def test_an_unknown_run_gets_only_the_one_run_check() -> None:
    report = check_run(RunEvidence(path="e/p/r", source="test", found=False, error="no such run"))
    assert [(c.name, c.ok, c.detail) for c in report.checks] == [("one run", False, "no such run")]


def test_every_rule_is_documented_in_the_rule_table() -> None:
    table = (ROOT / "docs" / "verify.md").read_text()
    missing = [rule.name for rule in RULES if f"| `{rule.name}` |" not in table]
    assert not missing, f"rules missing from docs/verify.md: {missing}"
