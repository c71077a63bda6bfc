"""Run ids: what W&B accepts, and ids derived from the scheduler's job identity (issue 14)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_ddp_bridge.errors import ConfigError
from wandb_ddp_bridge.run_ids import MAX_LENGTH, derive_run_id, resolve_run_id, validate_run_id


@settings(deadline=None)  # the first example imports wandb
@given(st.text(max_size=MAX_LENGTH + 10))
def test_every_id_we_accept_is_accepted_by_wandb_itself(candidate: str) -> None:
    import wandb

    try:
        accepted = validate_run_id(candidate)
    except ConfigError:
        return
    assert accepted == candidate
    assert wandb.Settings(run_id=accepted).run_id == accepted


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("", "is empty"),
        ("a/b", "may not contain"),
        ("has space", "may not contain"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
        (42, "must be a string"),
        ("auto", "reserved"),
    ],
)
def test_invalid_ids_name_the_rule(bad: object, rule: str) -> None:
    with pytest.raises(ConfigError, match=rule):
        validate_run_id(bad)


def test_explicit_ids_pass_through_and_none_means_a_new_run() -> None:
    assert resolve_run_id(None, project="p") is None
    identity = resolve_run_id("job-42_a.1", project="p")
    assert identity is not None and identity.run_id == "job-42_a.1"


def test_auto_is_stable_for_a_requeued_slurm_job_and_differs_between_jobs_and_projects() -> None:
    first = derive_run_id("p", environ={"SLURM_JOB_ID": "1234", "SLURM_RESTART_COUNT": "0"})
    requeued = derive_run_id("p", environ={"SLURM_JOB_ID": "1234", "SLURM_RESTART_COUNT": "1"})
    assert first == requeued
    assert derive_run_id("p", environ={"SLURM_JOB_ID": "1235"}).run_id != first.run_id
    assert derive_run_id("other", environ={"SLURM_JOB_ID": "1234"}).run_id != first.run_id
    assert derive_run_id("p", "team", environ={"SLURM_JOB_ID": "1234"}).run_id != first.run_id
    assert validate_run_id(first.run_id) == first.run_id and first.run_id.startswith("slurm-")


def test_auto_prefers_the_array_task_over_the_per_task_job_id() -> None:
    env = {"SLURM_JOB_ID": "901", "SLURM_ARRAY_JOB_ID": "900", "SLURM_ARRAY_TASK_ID": "1"}
    task1 = derive_run_id("p", environ=env)
    task2 = derive_run_id("p", environ={**env, "SLURM_JOB_ID": "902", "SLURM_ARRAY_TASK_ID": "2"})
    assert task1.run_id != task2.run_id
    assert task1 == derive_run_id("p", environ={**env, "SLURM_JOB_ID": "999"})  # requeue renumbers nothing
    assert "900_1" in task1.source


def test_auto_reads_torchelastic_but_not_its_default_rendezvous_id() -> None:
    assert derive_run_id("p", environ={"TORCHELASTIC_RUN_ID": "train-7"}).run_id.startswith("torchelastic-")
    with pytest.raises(ConfigError, match="no scheduler job identity"):
        derive_run_id("p", environ={"TORCHELASTIC_RUN_ID": "none"})


def test_auto_reads_the_variable_the_user_names_first() -> None:
    env = {"JOB_NAME": "yolo-nightly", "SLURM_JOB_ID": "1"}
    assert derive_run_id("p", environ=env, identity_env="JOB_NAME").source == "env job 'yolo-nightly'"
    with pytest.raises(ConfigError, match=r"\$MISSING is not set"):
        derive_run_id("p", environ=env, identity_env="MISSING")


def test_auto_without_any_identity_says_what_to_set_and_never_reads_wandb_run_id() -> None:
    with pytest.raises(ConfigError, match="job_identity_env") as error:
        derive_run_id("p", environ={"WANDB_RUN_ID": "stale"})
    assert "stale" not in str(error.value)


@given(
    st.text(min_size=1, max_size=40).filter(lambda s: s.strip().lower() not in {"none", "null", "default", ""}),
    st.text(min_size=1, max_size=20),
)
def test_derived_ids_are_always_valid(job: str, project: str) -> None:
    identity = derive_run_id(project, environ={"SLURM_JOB_ID": job})
    assert validate_run_id(identity.run_id) == identity.run_id
