"""Ultralytics' resume and the run a checkpoint belongs to.

Global rank 0 writes a small record (``wandb_ddp_bridge.json``, see :mod:`wandb_ddp_bridge.restarts`) into the
training's ``save_dir`` when training starts, beside ``weights/last.pt``. A later attempt that resumes from that
checkpoint (``h.train(resume=True)`` on a model built from ``last.pt``, or ``resume="path/to/last.pt"``) is
checked against it: training into a different run than the checkpoint's is refused with both ids named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ... import _log
from ...env import read_descriptor
from ...errors import ConfigError
from ...restarts import RunRecord, find_run_record, write_run_record

__all__ = ["check_checkpoint_run", "record_run", "resumed_checkpoint"]


def resumed_checkpoint(model: Any, train_kwargs: dict[str, Any]) -> Path | None:
    """The checkpoint this training resumes from, or ``None`` when it starts fresh."""
    resume = train_kwargs.get("resume")
    if isinstance(resume, (str, Path)) and str(resume):
        return Path(resume)
    if resume is True:
        path = getattr(model, "ckpt_path", None)
        return Path(path) if path else None
    return None


def check_checkpoint_run(model: Any, train_kwargs: dict[str, Any]) -> RunRecord | None:
    """The record of the checkpoint being resumed, after checking it names the handed-off run."""
    checkpoint = resumed_checkpoint(model, train_kwargs)
    if checkpoint is None:
        return None
    record = find_run_record(checkpoint)
    descriptor = read_descriptor()
    if record is None or descriptor is None:
        return record
    same_place = (record.project, record.entity or descriptor.entity) == (descriptor.project, descriptor.entity)
    if record.run_id != descriptor.run_id or not same_place:
        here = f"{descriptor.entity}/{descriptor.project}" if descriptor.entity else descriptor.project
        raise ConfigError(
            f"the checkpoint {checkpoint} belongs to run {record.where} (recorded in {record.path}), but this "
            f"session's run is {here}/{descriptor.run_id}. Continue the checkpoint's run with "
            f"wandb_session(..., run_id={record.run_id!r}, project={record.project!r}) or "
            f"resume_from={str(checkpoint)!r}; to start a new run, train without resume."
            + (" A run id names a different run in another project." if record.run_id == descriptor.run_id else "")
        )
    _log.debug("resuming %s: the checkpoint belongs to this run (%s)", checkpoint, record.where)
    return record


def record_run(save_dir: Any) -> None:
    """Keep the handed-off run's id next to this training's checkpoints (global rank 0, training start)."""
    descriptor = read_descriptor()
    if descriptor is None or save_dir is None:
        return
    try:
        write_run_record(save_dir, run_id=descriptor.run_id, project=descriptor.project, entity=descriptor.entity)
    except OSError as exc:  # a read-only save_dir must not stop training; only restarts lose the link
        _log.warn_once(f"could not record the run id in {save_dir} ({exc}); a resumed attempt will need run_id=")
