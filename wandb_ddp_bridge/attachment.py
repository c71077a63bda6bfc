"""attach(): a training process re-joins the run its parent handed off.

Call it in any child training process (Ultralytics' DDP worker, a torchrun script, a custom loop). On global
rank 0 it resumes the handed-off run with ``resume="must"`` (never a second run); on every other rank it
returns ``None`` and touches nothing. ``detach()`` finishes what ``attach()`` opened, exactly once.

While attached, explicit ``step`` values logged into the run are rebased onto its step counter (see
:mod:`.steps`), so a training that logs ``step=epoch+1`` never loses rows to what was logged before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from . import _log, _wandb, steps
from .config import BridgeConfig
from .env import HANDOFF_ENV_VAR, HandoffDescriptor, read_descriptor
from .errors import AttachError
from .ranks import is_main_process
from .registry import Slot

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

__all__ = ["attach", "attached", "attached_run", "detach"]

#: The run this process opened through attach(); empty when it holds none (or only borrows the parent's).
_ATTACHED: Slot[Run] = Slot("attached run")


def attach() -> Run | None:
    """Re-attach global rank 0 to the handed-off run; ``None`` on other ranks. Idempotent."""
    if not is_main_process():
        _log.debug("attach(): not global rank 0, nothing to do")
        return None
    descriptor = read_descriptor()
    if descriptor is None:
        raise AttachError(
            f"attach() found no handed-off run: ${HANDOFF_ENV_VAR} is not set. Call it only in training code "
            "that runs inside `with session.handoff():` (or in a process started from there)."
        )
    current = _wandb.active_run()
    if current is not None:
        if current.id != descriptor.run_id:
            raise AttachError(
                f"attach(): this process already has W&B run {current.id!r} open, but the handed-off run is "
                f"{descriptor.run_id!r}. Finish the other run first; one process logs to one run."
            )
        steps.install(current)
        return current  # already attached, or the in-process fast path: the session's own run
    if descriptor.parent_holds_run:
        raise AttachError(
            f"attach(): run {descriptor.run_id!r} is still open in the parent process (in-process fast path), "
            "so a child process cannot resume it. Use `session.handoff(model, fast_path='never')` or "
            "`session.handoff()` without a model when training runs in child processes."
        )
    run = _resume(descriptor)
    _ATTACHED.set(run)
    steps.install(run)
    return run


def detach(*, exit_code: int = 0) -> None:
    """Stop rebasing steps; finish the attachment made by :func:`attach` (no-op if there is none or it already
    ended, e.g. the fast path's run, which the session keeps)."""
    steps.uninstall()
    run = _ATTACHED.clear()
    if run is None:
        return
    if _wandb.active_run() is not run:
        _log.debug("detach(): run %s was already finished by someone else", run.id)
        return
    _wandb.finish(run, exit_code=exit_code)


def attached_run() -> Run | None:
    """The run this process opened through :func:`attach`, if still held."""
    return _ATTACHED.get()


@contextmanager
def attached() -> Iterator[Run | None]:
    """``with attached() as run:`` — attach, then detach with exit code 1 if the block raised."""
    run = attach()
    try:
        yield run
    except BaseException:
        detach(exit_code=1)
        raise
    detach(exit_code=0)


def _resume(descriptor: HandoffDescriptor) -> Run:
    config = BridgeConfig.resolve(
        project=descriptor.project,
        entity=descriptor.entity,
        base_url=descriptor.base_url,
        mode=descriptor.mode,
        dir=descriptor.dir,
        init_timeout=descriptor.init_timeout,
    )
    return _wandb.resume(
        run_id=descriptor.run_id,
        project=descriptor.project,
        entity=descriptor.entity,
        mode=descriptor.mode,
        config=config,
        dir=descriptor.dir,
    )
