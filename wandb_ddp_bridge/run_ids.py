"""Run ids chosen by the user or derived from the scheduler's job identity, so a restarted job finds its run.

``run_id="my-job-42"`` names the run; ``run_id="auto"`` derives a stable id from the job the scheduler is
running, so a requeued or restarted job gets the same id without user code. Sources, first match wins:

| source | variables | stays the same when |
|---|---|---|
| ``job_identity_env`` names it | e.g. ``JOB_NAME``, set from a Kubernetes Job / PyTorchJob name | the name stays |
| Slurm array task | ``SLURM_ARRAY_JOB_ID`` + ``SLURM_ARRAY_TASK_ID`` | the task is requeued |
| Slurm job | ``SLURM_JOB_ID`` | the job is requeued (``--requeue``, preemption) |
| TorchElastic | ``TORCHELASTIC_RUN_ID`` (torchrun's ``--rdzv-id``) | restarts of the same rendezvous |

The identity is hashed together with entity and project, so the same job id in two projects never names the
same run. A ``WANDB_RUN_ID`` left in the environment is never read here: that is how stale ids leak from one
job into the next.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["AUTO", "MAX_LENGTH", "RunIdentity", "derive_run_id", "resolve_run_id", "validate_run_id"]

AUTO = "auto"
#: W&B stores run ids as bucket names of at most 128 characters.
MAX_LENGTH = 128
# wandb.Settings refuses these in a run id; "\\", "%" and whitespace also break the run's URL.
_RESERVED = ":;,#?/'\\%"
_NOT_AN_IDENTITY = {"", "none", "null", "default"}  # torchrun's default rendezvous id is "none"


@dataclass(frozen=True)
class RunIdentity:
    """The run id to use and where it came from (said in logs and errors)."""

    run_id: str
    source: str
    #: the id was handed out to be created (a sweep agent's trial): creating it is routine, not news
    assigned: bool = False


def validate_run_id(run_id: object, *, where: str = "run_id") -> str:
    """``run_id`` itself when W&B accepts it; a ConfigError naming the broken rule otherwise."""
    if not isinstance(run_id, str):
        raise ConfigError(f"{where}={run_id!r} must be a string (W&B run ids are text)")
    if not run_id:
        raise ConfigError(f"{where} is empty: a W&B run id has 1 to {MAX_LENGTH} characters")
    if len(run_id) > MAX_LENGTH:
        raise ConfigError(
            f"{where}={run_id[:20]!r}... has {len(run_id)} characters: a W&B run id has at most {MAX_LENGTH}"
        )
    bad = sorted({char for char in run_id if char in _RESERVED or char.isspace() or not char.isprintable()})
    if bad:
        raise ConfigError(
            f"{where}={run_id!r} contains {''.join(bad)!r}: a W&B run id may not contain whitespace, control "
            f"characters or any of {_RESERVED!r}; letters, digits, '-', '_' and '.' are safe"
        )
    if run_id == AUTO:
        raise ConfigError(f"{where}={AUTO!r} is reserved for deriving the id from the scheduler's job identity")
    return run_id


def derive_run_id(
    project: str,
    entity: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    identity_env: str | None = None,
) -> RunIdentity:
    """The stable id for this scheduler job in ``entity/project`` (``run_id="auto"``)."""
    env = os.environ if environ is None else environ
    source, identity = _job_identity(env, identity_env)
    digest = hashlib.sha256(f"{source}\0{identity}\0{entity or ''}\0{project}".encode()).hexdigest()
    return RunIdentity(run_id=f"{source}-{digest[:16]}", source=f"{source} job {identity!r}")


def resolve_run_id(
    value: str | None,
    *,
    project: str,
    entity: str | None = None,
    environ: Mapping[str, str] | None = None,
    identity_env: str | None = None,
) -> RunIdentity | None:
    """``None`` (a new run with a fresh id), the validated explicit id, or the derived one for ``"auto"``."""
    if value is None:
        return None
    if value == AUTO:
        return derive_run_id(project, entity, environ=environ, identity_env=identity_env)
    return RunIdentity(run_id=validate_run_id(value), source="run_id setting")


def _job_identity(env: Mapping[str, str], identity_env: str | None) -> tuple[str, str]:
    if identity_env:
        value = env.get(identity_env, "").strip()
        if value.lower() in _NOT_AN_IDENTITY:
            raise ConfigError(
                f"run_id='auto' with job_identity_env={identity_env!r}, but ${identity_env} is "
                f"{'not set' if not value else repr(value)}. Set it to the job's name (for a Kubernetes Job: "
                "`env: [{name: " + identity_env + ", valueFrom: {fieldRef: {fieldPath: "
                "metadata.labels['job-name']}}}]`) or pass an explicit run_id."
            )
        return "env", value
    array_job, array_task = env.get("SLURM_ARRAY_JOB_ID", ""), env.get("SLURM_ARRAY_TASK_ID", "")
    if array_job and array_task:
        return "slurm", f"{array_job}_{array_task}"
    if env.get("SLURM_JOB_ID"):
        return "slurm", env["SLURM_JOB_ID"]
    elastic = env.get("TORCHELASTIC_RUN_ID", "").strip()
    if elastic.lower() not in _NOT_AN_IDENTITY:
        return "torchelastic", elastic
    raise ConfigError(
        "run_id='auto' found no scheduler job identity: none of SLURM_JOB_ID, SLURM_ARRAY_JOB_ID + "
        "SLURM_ARRAY_TASK_ID, or TORCHELASTIC_RUN_ID (torchrun --rdzv-id) is set. Name the variable that holds "
        "your job's identity with job_identity_env='JOB_NAME' (Kubernetes), or pass an explicit run_id."
    )
