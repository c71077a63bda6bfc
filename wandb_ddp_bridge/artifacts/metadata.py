"""Job metadata: what the bridge can find out about this job, merged with what the caller knows.

Found here (each only when available): git commit/branch/dirty of the working directory, hostname (and the
Slurm node list), launcher and world size, Python/wandb/torch/ultralytics versions. Versions come from
installed package metadata, so torch is never imported just to read its version.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .redact import Redactor

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = ["collect_metadata", "log_metadata"]

log = logging.getLogger(__name__)

_PACKAGES = ("wandb", "torch", "ultralytics", "wandb-ddp-bridge")


def log_metadata(
    run: Run, metadata: Mapping[str, Any] | None = None, *, key: str = "job", redactor: Redactor | None = None
) -> dict[str, Any]:
    """Merge found metadata, what an earlier call stored and ``metadata`` (later wins; caller values win
    over found ones), redact it, and store it in ``run.config[key]`` and ``run.summary[key]``."""
    from .files import redactor_for

    found = collect_metadata()
    config: Any = run.config
    previous = config.get(key)
    merged: dict[str, Any] = {**found, **(previous if isinstance(previous, dict) else {})}
    if metadata:
        merged.update(dict(metadata))
    job: dict[str, Any] = redactor_for(run, redactor).redact(merged)
    config.update({key: job}, allow_val_change=True)
    run.summary[key] = job
    return job


def collect_metadata(cwd: str | None = None) -> dict[str, Any]:
    """Everything the bridge can find out about this job without side effects (no torch import)."""
    from ..ranks import detect_world

    out: dict[str, Any] = {}
    out.update(_git(cwd or os.getcwd()))
    out["hostname"] = socket.gethostname()
    if os.environ.get("SLURM_JOB_NODELIST"):
        out["hostnames"] = os.environ["SLURM_JOB_NODELIST"]
    try:
        world = detect_world()
    except Exception as exc:  # inconsistent launcher variables: report them, do not fail the logging
        log.debug("world detection failed: %s", exc)
    else:
        out["launcher"] = world.launcher or "none"
        out["world_size"] = world.world_size
    if os.environ.get("SLURM_JOB_ID"):
        out["slurm_job_id"] = os.environ["SLURM_JOB_ID"]
    out["python_version"] = platform.python_version()
    for pkg in _PACKAGES:
        version = _version(pkg)
        if version:
            out[f"{pkg.replace('-', '_')}_version"] = version
    return out


def _version(dist: str) -> str | None:
    module = sys.modules.get(dist.replace("-", "_"))
    version = getattr(module, "__version__", None)  # already imported: the running version wins
    if isinstance(version, str):
        return version
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(cwd: str) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    out: dict[str, Any] = {"git_commit": commit}
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        out["git_branch"] = branch
    status = git("status", "--porcelain", "--untracked-files=no")
    if status is not None:
        out["git_dirty"] = bool(status)
    return out
