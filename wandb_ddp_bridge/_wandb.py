"""The only module that calls into the ``wandb`` SDK to open and close runs.

Keeping every ``wandb.init``/``finish`` here makes ownership explicit (we always know which run we talk to)
and keeps ``import wandb_ddp_bridge`` light: wandb is imported on first use only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _log
from .config import BridgeConfig
from .errors import BackendError

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = [
    "active_run",
    "active_run_if_loaded",
    "finish",
    "init_new",
    "resume",
    "settings_for",
    "update_summary",
]


def active_run() -> Run | None:
    """The process-global ``wandb.run`` (``None`` when no run is open)."""
    import wandb

    return wandb.run


def active_run_if_loaded() -> Run | None:
    """Like :func:`active_run`, without importing wandb where nothing imported it (no run can be open there)."""
    wandb = sys.modules.get("wandb")
    return getattr(wandb, "run", None) if wandb is not None else None


def settings_for(config: BridgeConfig, *, init_timeout: float | None = None) -> Any:
    import wandb

    timeout = config.init_timeout if init_timeout is None else init_timeout
    values: dict[str, Any] = {"init_timeout": timeout, "silent": True}
    if config.base_url:
        values["base_url"] = config.base_url
    if config.api_key:
        values["api_key"] = config.api_key
    return wandb.Settings(**values)


def _init_with_key(config: BridgeConfig, **arguments: Any) -> Run:
    """``wandb.init(**arguments)``; where the client refuses the explicit API key it was given, make that key the
    process's login and try once more.

    Older clients (measured on the oldest supported wandb) log in with the process-wide settings only and ignore the
    key given to ``wandb.init``: once anything in the process set wandb up without a key, an explicit
    ``api_key`` is refused ("api_key not configured"). Only then, ``wandb.setup(settings=...)`` puts the key
    (and base URL) into those process-wide settings, the one global side effect here; it writes no file
    (``wandb.login(key=...)`` would write ``~/.netrc``). Newer clients pass the key on and never get here."""
    import wandb

    try:
        return wandb.init(**arguments)
    except wandb.errors.UsageError as exc:
        if not config.api_key or config.mode != "online" or "api_key not configured" not in str(exc):
            raise
    values: dict[str, Any] = {"api_key": config.api_key}
    if config.base_url:
        values["base_url"] = config.base_url
    wandb.setup(settings=wandb.Settings(**values))
    _log.debug("wandb ignored the API key given to wandb.init; made it the process's login")
    return wandb.init(**arguments)


def init_new(config: BridgeConfig, *, run_id: str | None = None) -> Run:
    """Create the session's run (main process only). With ``run_id``: create the run with that id, or continue
    it (``resume="allow"``) when it exists: one run for the whole life of a restarted job."""
    import wandb

    started = time.perf_counter()
    named: dict[str, Any] = {"id": run_id, "resume": "allow"} if run_id is not None else {}
    try:
        run = _init_with_key(
            config,
            **named,
            project=config.project,
            entity=config.entity,
            name=config.name,
            group=config.group,
            job_type=config.job_type,
            tags=list(config.tags) or None,
            notes=config.notes,
            mode=config.mode,
            dir=config.dir,
            settings=settings_for(config),
        )
    except wandb.errors.Error as exc:
        raise BackendError(_backend_message("create the run", config, exc)) from exc
    how = "continued" if getattr(run, "resumed", False) else "created"
    _log.debug("%s run %s in %.3fs", how, run.id, time.perf_counter() - started)
    return run


def resume(
    *,
    run_id: str,
    project: str,
    entity: str | None,
    mode: str,
    config: BridgeConfig,
    dir: str | None = None,
    init_timeout: float | None = None,
) -> Run:
    """Re-open an existing run with ``resume="must"``: never creates a second run by accident.

    ``init_timeout`` bounds this one attempt (default: the config's)."""
    import wandb

    started = time.perf_counter()
    try:
        run = _init_with_key(
            config,
            id=run_id,
            project=project,
            entity=entity,
            resume="must",
            mode=mode,  # type: ignore[arg-type]
            dir=dir,
            settings=settings_for(config, init_timeout=init_timeout),
        )
    except wandb.errors.UsageError as exc:
        where = f"{entity}/{project}" if entity else project
        raise BackendError(
            f"cannot resume run {run_id!r} in {where}: the backend says it does not exist. Was it created "
            f"against another base URL ({config.base_url or 'default'}) or another project/entity? ({exc})"
        ) from exc
    except wandb.errors.Error as exc:
        raise BackendError(_backend_message(f"resume run {run_id!r}", config, exc)) from exc
    except Exception as exc:
        if type(exc).__name__ != "ServerResponseError":
            raise
        # wandb >= 0.2x: the local service still holds an interrupted stream of this run ("run ID ... is in
        # use"); forget_failed_init() shuts that service down, so a retry succeeds
        raise BackendError(f"cannot resume run {run_id!r} yet: {exc}") from exc
    _log.debug("resumed run %s in %.3fs", run.id, time.perf_counter() - started)
    return run


def finish(run: Run, *, exit_code: int) -> None:
    """Finish ``run`` completely (history flushed, service stream closed) before anyone resumes it."""
    started = time.perf_counter()
    run.finish(exit_code=exit_code)
    _log.debug("finished run %s (exit code %s) in %.3fs", run.id, exit_code, time.perf_counter() - started)


def update_summary(run: Run, values: Mapping[str, Any]) -> None:
    """Write ``values`` into the run summary (summary writes never advance the history step)."""
    run.summary.update(dict(values))


def _backend_message(action: str, config: BridgeConfig, exc: BaseException) -> str:
    return (
        f"could not {action} on the W&B backend at {config.base_url or 'https://api.wandb.ai'} "
        f"(mode={config.mode}): {exc}. Check the URL and your API key, or set on_backend_error='offline' "
        "to keep training and sync later."
    )


def resume_offline(*, run_id: str, project: str, entity: str | None, config: BridgeConfig) -> Run:
    """An offline run with the same id, for ``on_backend_error="offline"``: logs stay local until synced."""
    import wandb

    return wandb.init(
        id=run_id,
        project=project,
        entity=entity,
        mode="offline",
        resume="allow",
        dir=config.dir,
        settings=settings_for(config),
    )


def run_dir(run: Run) -> str:
    """The run's local folder (what ``wandb sync`` takes), e.g. ``wandb/offline-run-...``."""
    files_dir = str(run.dir)
    return files_dir[: -len("/files")] if files_dir.endswith("/files") else files_dir


def forget_failed_init() -> None:
    """After a failed ``init``, the local wandb service may still reserve the run id ("run ID ... is in
    use") and refuse the retry. With no run open in this process, shutting the service down is safe: the
    next ``init`` starts a fresh one."""
    import wandb

    if wandb.run is None:
        wandb.teardown()
