"""Taking a handed-off run back after training: still open, resumed with retries, or kept in an offline copy.

The run owner calls :func:`reopen` when a handoff ends. It knows nothing of the owner: it gets the run the
session had before the handoff, the run the fast path held (if any), the exception that ended training, the
settings and the handoff's signal guard, and returns the run for post-training, or ``None`` when the run is
lost (the owner then refuses every write with a message saying why).

After a signal (or Ctrl-C) the resume gets ``resume_grace_seconds`` in all; then it is abandoned for a local
offline copy of the run (with the ``wandb sync`` command in a warning), and the signal's exit goes on. A resume
that no retry can mend (the run was deleted on the server, or an error that is not the backend's) also leaves
an offline copy, which gets the failure, before the error propagates: the run never looks green.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from . import _log, _wandb
from .config import BridgeConfig
from .errors import BackendError, PhaseError
from .markers import FAILED_KEY
from .signals import GraceExpired, SignalGuard, Terminated

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = ["recovered", "reopen"]


def reopen(
    previous: Run | None, held: Run | None, exc: BaseException | None, config: BridgeConfig, guard: SignalGuard
) -> Run | None:
    """The run for the post phase: still open (fast path, or never closed), or resumed with retries."""
    if previous is None:  # not the main process, or no run
        return None
    current = _wandb.active_run()
    if current is not None and (current is held or current is previous or current.id == previous.id):
        return current  # never closed (an interrupted handoff start), or kept open (fast path)
    if current is not None:
        message = (
            f"a W&B run ({current.id!r}) opened inside the handoff block is still open, so the session "
            f"cannot resume run {previous.id!r}. Do not call wandb.init() in the training phase: "
            "use attach()/detach() (or the Ultralytics integration) instead."
        )
        if exc is None:
            raise PhaseError(message)
        _log.warning("%s", message)
        return None
    return _resume(previous, exc, config, guard)


def recovered(previous: Run | None) -> Run | None:
    """The session's run, if a failed resume had opened it after all: an interrupted attempt, or the offline
    copy kept when the resume failed for good (the exception still propagates; the post phase gets the run,
    so the session records the failure in it)."""
    current = _wandb.active_run_if_loaded()
    if previous is not None and current is not None and current.id == previous.id:
        return current
    return None


def _resume(previous: Run, exc: BaseException | None, config: BridgeConfig, guard: SignalGuard) -> Run | None:
    """Resume ``previous`` with retries; after a signal (or Ctrl-C) within its grace period, else abandon."""
    deadline = guard.deadline()
    if deadline is None and isinstance(exc, (KeyboardInterrupt, SystemExit)):  # interrupted: the user wants out
        # counted from the signal where it is known (the preemption watch took it while training ran here,
        # and the stop already used part of the grace), else from now
        signalled = exc.received_at if isinstance(exc, Terminated) else None
        deadline = (signalled if signalled is not None else time.monotonic()) + config.resume_grace_seconds
    try:
        return _resume_until(previous, exc, deadline, config, guard)
    except GraceExpired:
        # a signal arrived during an attempt and its grace period is over (the guard interrupted it)
        return _abandon(previous, config, guard)


def _resume_until(
    previous: Run, exc: BaseException | None, deadline: float | None, config: BridgeConfig, guard: SignalGuard
) -> Run | None:
    # an attempt bounded by the deadline ends a little before it: wandb then drops the attempt itself,
    # and the offline copy can still take the run id
    margin = min(2.0, config.resume_grace_seconds / 4)
    delay = 1.0
    for attempt in range(1, config.resume_attempts + 1):
        # no attempt outlasts the grace period: a SIGTERM arriving during one is then honoured in time even
        # where wandb cannot be interrupted while it waits (measured on the oldest supported wandb)
        timeout = min(config.init_timeout, config.resume_grace_seconds)
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic() - margin)
            if timeout <= 0:
                return _abandon(previous, config, guard)
        try:
            return _wandb.resume(
                run_id=previous.id,
                project=previous.project or config.project,
                entity=previous.entity or config.entity,
                mode=config.mode,
                config=config,
                dir=config.dir,
                init_timeout=timeout,
            )
        except BackendError as error:
            _wandb.forget_failed_init()
            if _run_is_gone(error):  # deleted on the server (or never there): no retry can bring it back
                if config.on_backend_error == "offline":
                    return _resume_offline(previous, config, error)
                _keep_failure_offline(previous, config, error)
                raise
            if attempt == config.resume_attempts:
                if deadline is not None:
                    return _abandon(previous, config, guard)
                if config.on_backend_error == "offline":
                    return _resume_offline(previous, config, error)
                if exc is not None:
                    # keep the training error primary; say loudly that post-training is lost
                    _log.warning("%s", error)
                    return None
                raise
            _log.warn_once(f"resume attempt {attempt}/{config.resume_attempts} failed: {error}; retrying")
            pause = delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)
            delay *= 2
        except Exception as error:  # not the backend: retrying cannot help
            _wandb.forget_failed_init()
            _keep_failure_offline(previous, config, error)
            raise
    return None  # unreachable: the loop returns or raises


def _abandon(previous: Run, config: BridgeConfig, guard: SignalGuard) -> Run | None:
    """The signal's grace period ran out: record the end of the run in a local offline copy instead (the
    session writes the failure into it and finishes it), or, where wandb still holds the abandoned attempt,
    say how to record it by hand."""
    guard.end_grace()  # giving up already: the guard must not interrupt the offline copy
    _log.warning(
        "gave up resuming run %s after a signal: its grace period (resume_grace_seconds=%s) ran out",
        previous.id,
        config.resume_grace_seconds,
    )
    try:
        return _resume_offline(previous, config)
    except Exception as error:
        where = f", entity={previous.entity!r}" if previous.entity else ""
        _log.warning(
            "could not keep an offline copy of run %s either (%s: %s): the server has its training data, but "
            'not how it ended. Record that later with:\n  python -c "import wandb; run = wandb.init(id=%r, '
            "project=%r%s, resume='must'); run.summary['%s'] = True; run.finish(exit_code=143)\"",
            previous.id,
            type(error).__name__,
            error,
            previous.id,
            previous.project,
            where,
            FAILED_KEY,
        )
        return None


def _run_is_gone(error: BackendError) -> bool:
    """wandb refused ``resume="must"``: the backend answered that the run does not exist."""
    import wandb

    return isinstance(error.__cause__, wandb.errors.UsageError)


def _keep_failure_offline(previous: Run, config: BridgeConfig, error: Exception) -> None:
    """The resume failed in a way no retry mends, and ``error`` will propagate. Without a run, the server
    would keep the run as the training child left it (exit code 0, state finished): a failed program that looks
    green. So open an offline copy under the same id: the owner recovers it (:func:`recovered`) and writes the
    failure and a non-zero exit code into it, and ``wandb sync`` uploads that into the run."""
    try:
        _resume_offline(previous, config, error)
    except Exception as offline_error:
        _log.warning(
            "could not keep an offline copy of run %s either (%s: %s): on the server it stays as training left "
            "it, without this failure",
            previous.id,
            type(offline_error).__name__,
            offline_error,
        )


def _resume_offline(previous: Run, config: BridgeConfig, reason: Exception | None = None) -> Run:
    """Keep the post-training logs locally, under the same run id, and say how to sync them."""
    config = config.model_copy(update={"mode": "offline"})
    try:
        run = _wandb.resume_offline(
            run_id=previous.id,
            project=previous.project or config.project,
            entity=previous.entity or config.entity,
            config=config,
        )
    except OSError as error:  # a full disk, a read-only folder: say where, and what to do
        where = error.filename or os.path.join(config.dir or os.getcwd(), "wandb")
        raise OSError(
            error.errno,
            f"could not write the offline copy of run {previous.id!r} under {where}: {error.strerror or error}. "
            "Free space there (or point dir= at a disk with room); the run on the server keeps what training "
            "wrote",
            where,
        ) from error
    where = f"-e {previous.entity} " if previous.entity else ""
    _log.warning(
        "%s; post-training logs (and how the run ended) go to an OFFLINE copy of run %s. Sync them into "
        "the same run later with:\n  wandb sync --id %s -p %s %s%s",
        f"could not resume run {previous.id!r} after training ({type(reason).__name__}: {reason})"
        if reason is not None
        else "the W&B backend is unreachable",
        previous.id,
        previous.id,
        previous.project,
        where,
        _wandb.run_dir(run),
    )
    return run
