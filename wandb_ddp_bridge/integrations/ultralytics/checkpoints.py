"""Checkpoints that travel with the run: each checkpointed epoch's ``last.pt`` is uploaded, and a restart
without a local ``last.pt`` resumes from the run's ``latest`` one (``BridgeConfig.checkpoints``).

Whoever logs the training (global rank 0: the session's process or the DDP rank-0 worker) copies ``last.pt``
when Ultralytics has saved it and hands the copy to a :class:`LatestOnlyUploader`, so training never waits for
the network; when the attachment closes, the upload still under way gets a bounded wait (after a stop signal,
the preemption grace). Before training, ``h.train(resume=True)`` is pointed at the run's checkpoint when no
local one is as new. The settings come from the handoff descriptor, so DDP workers see the same ones.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import _log
from ...artifacts.checkpoints import CheckpointStore, FetchedCheckpoint, check_destination, fetch, latest_checkpoint
from ...artifacts.uploader import LatestOnlyUploader
from ...attachment import attach, attached_run, detach
from ...env import HandoffDescriptor, read_descriptor
from ...errors import ConfigError
from .containment import contained

__all__ = ["END_WAIT_SECONDS", "ERRORS_KEY", "finish_uploads", "resume_source", "submit_checkpoint"]

#: How long the end of a training waits for the checkpoint upload under way before it gives up on it.
END_WAIT_SECONDS = 300.0
#: Summary key: how many checkpoint uploads failed in this training (0 when all went up).
ERRORS_KEY = "bridge/checkpoint_errors"
_ATTR = "_wandb_ddp_bridge_checkpoints"


@dataclass
class _Uploads:
    """One training's checkpoint uploads (global rank 0): where they go, the thread that sends them, and the
    newest epoch saved and sent (a stop uploads a saved epoch that ``every`` skipped)."""

    store: CheckpointStore
    uploader: LatestOnlyUploader
    every: int
    grace: float
    saved: int = 0
    submitted: int = 0


@dataclass
class _Upload:
    """One staged copy of ``last.pt``, waiting for the uploader (deleted once sent or replaced)."""

    store: CheckpointStore
    staged: Path
    epoch: int
    best: bool
    metadata: dict[str, Any]

    def run(self) -> None:
        try:
            self.store.publish(self.staged, epoch=self.epoch, best=self.best, metadata=self.metadata)
        finally:
            self.discard()

    def discard(self) -> None:
        self.staged.unlink(missing_ok=True)


def submit_checkpoint(trainer: Any, run: Any) -> None:
    """After Ultralytics saved ``last.pt`` (``on_model_save``): queue this epoch's copy if it is checkpointed."""
    uploads = _uploads(trainer, run)
    if uploads is None or not Path(getattr(trainer, "last", "") or "").is_file():
        return
    uploads.saved = int(trainer.epoch) + 1  # epochs completed; Ultralytics' own ``epoch`` counts from 0
    if uploads.saved % uploads.every == 0 or uploads.saved >= int(trainer.epochs):
        _stage(trainer, uploads)


def finish_uploads(trainer: Any, *, stopped: bool) -> None:
    """Before the attachment closes: after a stop, the newest ``last.pt`` is queued if ``every`` skipped it;
    then the upload under way gets a bounded wait (the preemption grace after a stop), failures are recorded."""
    uploads: _Uploads | None = getattr(trainer, _ATTR, None)
    if uploads is None:
        return
    setattr(trainer, _ATTR, None)
    if stopped and uploads.saved > uploads.submitted:
        with contained("the bridge (checkpoint upload)", "teardown"):
            _stage(trainer, uploads)  # the run's latest is never older than the disk
    timeout = uploads.grace if stopped else END_WAIT_SECONDS
    finished = uploads.uploader.close(timeout)
    if not finished:
        _log.warning("the last checkpoint upload did not finish within %gs; the run's latest is older", timeout)
    try:
        uploads.store.run.summary[ERRORS_KEY] = uploads.uploader.errors + (0 if finished else 1)
    except Exception as exc:  # the run may already be gone after a failure; the count is only lost
        _log.debug("could not record %s: %r", ERRORS_KEY, exc)


def _stage(trainer: Any, uploads: _Uploads) -> None:
    """Copy ``last.pt`` (the next epoch overwrites it in place while the copy is uploaded) and queue it."""
    epoch = uploads.saved
    handle, name = tempfile.mkstemp(prefix=f"last-epoch-{epoch}-", suffix=".pt")
    os.close(handle)
    shutil.copyfile(trainer.last, name)
    fitness = getattr(trainer, "fitness", None)
    best = fitness is not None and fitness == getattr(trainer, "best_fitness", None)
    metadata = {"fitness": _number(fitness), "ultralytics": _release(), "train_args": _plain_args(trainer.args)}
    uploads.uploader.submit(_Upload(uploads.store, Path(name), epoch, best, metadata))
    uploads.submitted = epoch


def resume_source(model: Any, train_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``train_kwargs`` with ``resume`` pointed at the run's checkpoint when no local one is as new; the
    destination checked first (a bucket that cannot be reached fails before training)."""
    enabled = _enabled()
    if enabled is None:
        return train_kwargs
    descriptor, destination = enabled
    check_destination(destination)
    resume = train_kwargs.get("resume")
    if not resume:
        return train_kwargs
    local = _local_checkpoint(model, resume)
    fetched = _fetch_if_newer(descriptor, local)
    if fetched is None:
        _log.debug("resuming the local checkpoint %s", local[0] if local else None)
        return train_kwargs
    _log.warning(
        "resuming from the run's checkpoint %s (epoch %d)%s",
        fetched.version,
        fetched.epoch,
        f", newer than the local {local[0]} (epoch {local[1]})" if local else ": there is no local last.pt",
    )
    return {**train_kwargs, "resume": str(fetched.path)}


def _fetch_if_newer(descriptor: HandoffDescriptor, local: tuple[Path, int] | None) -> FetchedCheckpoint | None:
    """The run's latest checkpoint, downloaded, unless ``local`` is as new; raises when neither exists."""
    run = attach()  # the session's own run on the fast path; otherwise opened here for the fetch only
    if run is None:
        return None
    try:
        latest = latest_checkpoint(run)
        if latest is None and local is None:
            raise ConfigError(
                f"h.train(resume=True): there is no local last.pt to resume and run {descriptor.run_id!r} holds "
                "no checkpoint yet (one is uploaded once an epoch is saved). Train without resume=True to start "
                "this training, or pass resume='path/to/last.pt'."
            )
        if latest is None or (local is not None and local[1] >= latest.epoch):
            return None
        return fetch(run, latest, root=Path(descriptor.dir or ".") / "wandb-ddp-bridge-checkpoints")
    finally:
        if attached_run() is run:
            detach(exit_code=0)  # training processes attach again (DDP workers resume the run)


def _local_checkpoint(model: Any, resume: Any) -> tuple[Path, int] | None:
    """The local checkpoint ``resume`` names and its completed epochs, or ``None`` if there is none."""
    if isinstance(resume, (str, Path)):
        path = Path(resume)
        if not path.is_file():
            return None
        import torch

        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        return path, int(ckpt.get("epoch", -1)) + 1
    ckpt = getattr(model, "ckpt", None) or {}
    where = getattr(model, "ckpt_path", None)
    if where and ckpt.get("epoch", -1) >= 0 and ckpt.get("optimizer") is not None:
        return Path(where), int(ckpt["epoch"]) + 1
    return None


def _uploads(trainer: Any, run: Any) -> _Uploads | None:
    uploads: _Uploads | None = getattr(trainer, _ATTR, None)
    if uploads is not None or run is None:
        return uploads
    enabled = _enabled()
    if enabled is None:
        return None
    descriptor, destination = enabled
    store = CheckpointStore(run, destination, descriptor.checkpoint_keep)
    uploads = _Uploads(
        store, LatestOnlyUploader("checkpoint upload"), descriptor.checkpoint_every, descriptor.checkpoint_grace
    )
    setattr(trainer, _ATTR, uploads)
    return uploads


def _enabled() -> tuple[HandoffDescriptor, str] | None:
    """The handoff's descriptor and checkpoint destination when it uploads checkpoints: set, and the run online
    (an offline or disabled run has no server to keep versions on or fetch them from)."""
    descriptor = read_descriptor()
    if descriptor is None or descriptor.checkpoints is None:
        return None
    if descriptor.mode != "online":
        _log.warn_once(
            f"checkpoints={descriptor.checkpoints!r} needs an online run (mode is {descriptor.mode!r}): "
            "no checkpoint is uploaded or fetched"
        )
        return None
    return descriptor, descriptor.checkpoints


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@functools.cache
def _release() -> str:
    """Ultralytics' release, read once: the package metadata lookup scans the installed distributions."""
    from importlib.metadata import version

    return version("ultralytics")


def _plain_args(args: Any) -> dict[str, Any]:
    items = vars(args).items() if hasattr(args, "__dict__") else dict(args or {}).items()
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in items}
