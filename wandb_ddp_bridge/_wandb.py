"""The only module that calls into the ``wandb`` SDK to open and close runs.

Keeping every ``wandb.init``/``finish`` here makes ownership explicit (we always know which run we talk to)
and keeps ``import wandb_ddp_bridge`` light: wandb is imported on first use only.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _log
from .config import BridgeConfig
from .env import hidden, unclaimed_run_variables
from .errors import BackendError

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = [
    "active_run",
    "active_run_if_loaded",
    "delete_run",
    "finish",
    "init_beside",
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


def settings_for(
    config: BridgeConfig,
    *,
    init_timeout: float | None = None,
    unset: tuple[str, ...] = (),
) -> Any:
    """The explicit ``wandb.Settings`` of one ``wandb.init``. ``unset`` names settings set to ``None`` explicitly:
    wandb keeps what it read from the ``WANDB_*`` environment when it was set up, and only an explicit setting
    overrides that."""
    import wandb

    timeout = config.init_timeout if init_timeout is None else init_timeout
    values: dict[str, Any] = {"init_timeout": timeout, "silent": True}
    if config.base_url:
        values["base_url"] = config.base_url
    if config.api_key:
        values["api_key"] = config.api_key
    values.update(dict.fromkeys(unset))
    return wandb.Settings(**values)


#: ``wandb.init`` argument -> the setting it fills (and the environment variable wandb falls back to).
_IDENTITY = {
    "name": "run_name",  # WANDB_NAME
    "group": "run_group",  # WANDB_RUN_GROUP
    "job_type": "run_job_type",  # WANDB_JOB_TYPE
    "tags": "run_tags",  # WANDB_TAGS
    "notes": "run_notes",  # WANDB_NOTES
}
_RUN_SELECTING = {"WANDB_RUN_ID": "run_id", "WANDB_RESUME": "resume"}


def _identity(config: BridgeConfig) -> dict[str, Any]:
    """The run's name, group, job type, tags and notes for creating it: an argument beats wandb's ``WANDB_*``
    fallback; one not given (``None``) leaves that fallback, as a plain ``wandb.init`` does."""
    return {
        "name": config.name,
        "group": config.group,
        "job_type": config.job_type,
        "tags": list(config.tags) or None,
        "notes": config.notes,
    }


def _identity_on_resume(config: BridgeConfig) -> tuple[dict[str, Any], tuple[str, ...]]:
    """For resuming: the identity values the user gave (they win), and the settings to unset for the others, so
    the run keeps what it was created with instead of taking a stale ``WANDB_NAME``/... of this process (a
    worker's config, built from the handoff descriptor, gives none: the run keeps all of it)."""
    given = {key: value for key, value in _identity(config).items() if key in config.model_fields_set}
    return given, tuple(setting for key, setting in _IDENTITY.items() if key not in given)


def _unclaimed_run_variables() -> tuple[str, ...]:
    """The stale ``WANDB_RUN_ID``/``WANDB_RESUME`` a new run must not follow, said once (one warning)."""
    unclaimed = unclaimed_run_variables()
    if unclaimed:
        found = " and ".join(f"{name}={os.environ[name]!r}" for name in unclaimed)
        _log.warning(
            "ignoring %s in the environment: the bridge did not set %s, so %s left over from an earlier job or "
            "shell, and wandb would %s. A session's run comes from run_id=, run_id='auto' or resume_from= only: "
            "unset the variable, or pass run_id= to continue a run on purpose.",
            found,
            "it" if len(unclaimed) == 1 else "them",
            "it is" if len(unclaimed) == 1 else "they are",
            " and ".join(_STALE_EFFECT[name] for name in unclaimed),
        )
    elif os.environ.get("WANDB_RUN_ID") and os.environ.get("WANDB_SWEEP_ID"):
        _log.debug(
            "the sweep agent assigned run %s (sweep %s): wandb opens that run",
            os.environ["WANDB_RUN_ID"],
            os.environ["WANDB_SWEEP_ID"],
        )
    return unclaimed


_STALE_EFFECT = {
    "WANDB_RUN_ID": "make this job write into that run",
    "WANDB_RESUME": "refuse to create a new run",
}


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
    it (``resume="allow"``) when it exists: one run for the whole life of a restarted job.

    A ``WANDB_RUN_ID``/``WANDB_RESUME`` the bridge did not export is hidden from wandb meanwhile (and overridden
    in the settings wandb read at setup), with one warning: the run comes from ``run_id`` only."""
    import wandb

    started = time.perf_counter()
    named: dict[str, Any] = {"id": run_id, "resume": "allow"} if run_id is not None else {}
    unclaimed = _unclaimed_run_variables()
    try:
        with hidden(unclaimed):
            run = _init_with_key(
                config,
                **named,
                **_identity(config),
                project=config.project,
                entity=config.entity,
                mode=config.mode,
                dir=config.dir,
                settings=settings_for(config, unset=tuple(_RUN_SELECTING[name] for name in unclaimed)),
            )
    except wandb.errors.Error as exc:
        raise BackendError(_backend_message("create the run", config, exc)) from exc
    how = "continued" if getattr(run, "resumed", False) else "created"
    _log.debug("%s run %s in %.3fs", how, run.id, time.perf_counter() - started)
    return run


def init_beside(
    *, project: str, entity: str | None, mode: str, config: Mapping[str, Any], dir: str | None = None, **identity: Any
) -> Run:
    """A new run of its own beside the session's (one iteration of Ultralytics' tuner), while the session's run
    is handed off: a fresh id, never a resume, although the handoff exported ``WANDB_RUN_ID``/``WANDB_RESUME``
    naming the session's run (hidden from wandb meanwhile). ``identity``: ``name``, ``group``, ``job_type``."""
    import wandb
    from wandb.sdk.lib.runid import generate_id

    try:
        with hidden(tuple(_RUN_SELECTING)):
            return wandb.init(
                id=generate_id(),
                project=project,
                entity=entity,
                mode=mode,  # type: ignore[arg-type]
                dir=dir,
                config=dict(config),
                settings=wandb.Settings(silent=True, resume=None),
                **identity,
            )
    except wandb.errors.Error as exc:
        raise BackendError(f"could not create a run beside the session's in {project}: {exc}") from exc


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
    identity, unset = _identity_on_resume(config)
    try:
        run = _init_with_key(
            config,
            **identity,
            id=run_id,
            project=project,
            entity=entity,
            resume="must",
            mode=mode,  # type: ignore[arg-type]
            dir=dir,
            settings=settings_for(config, init_timeout=init_timeout, unset=unset),
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


def delete_run(config: BridgeConfig, path: str) -> None:
    """Delete the finished run at ``path`` (``entity/project/id``) through the public API, as the W&B UI does
    (its artifacts stay)."""
    import wandb

    overrides = {"base_url": config.base_url} if config.base_url else {}
    api = wandb.Api(api_key=config.api_key, overrides=overrides, timeout=int(min(config.init_timeout, 30)))
    api.run(path).delete()
    _log.debug("deleted run %s", path)


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

    identity, unset = _identity_on_resume(config)
    return wandb.init(
        **identity,
        id=run_id,
        project=project,
        entity=entity,
        mode="offline",
        resume="allow",
        dir=config.dir,
        settings=settings_for(config, unset=unset),
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
