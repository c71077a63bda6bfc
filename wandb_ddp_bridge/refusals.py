"""A training refused before it began leaves no run behind.

``h.train()`` checks what it was asked before training starts and raises :class:`~.errors.TrainingRefused` (a
checkpoint of another run, ``resume=True`` with no checkpoint anywhere, a denied checkpoint bucket). By then the
session has already created its run: it opens the run when the ``with`` block starts, long before ``h.train()``
is called. A run that this attempt created, that the caller wrote nothing to and never held in hand
(``s.run``), holds only the session's own bookkeeping; kept, it would be an empty failed run in the project
for every refused attempt. So, once the run is finished, it is deleted through W&B's public API.

A run is kept whenever that is not certain: a continued run (``run_id=``, ``"auto"``, ``resume_from=``), a run
a sweep agent created, a run the caller wrote to or read through ``s.run``, and runs not on a server (offline or
disabled). A failed delete is contained: the refusal propagates unchanged, with a note saying what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _log, _wandb
from .config import BridgeConfig
from .errors import TrainingRefused
from .signals import add_note

__all__ = ["CreatedRun", "discard_refused_run"]


@dataclass(frozen=True)
class CreatedRun:
    """A run that the session's ``wandb.init`` created (rather than continued), where it lives."""

    entity: str | None
    project: str
    run_id: str

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}" if self.entity else f"{self.project}/{self.run_id}"


def discard_refused_run(
    created: CreatedRun | None, ending: BaseException | None, config: BridgeConfig, *, caller_used_run: bool
) -> bool:
    """Delete the finished run ``created`` when the session ended with a refused training and the run holds
    nothing of the caller's (see the module docstring). Returns whether it was deleted."""
    if not isinstance(ending, TrainingRefused) or created is None or caller_used_run or config.mode != "online":
        return False
    try:
        _wandb.delete_run(config, created.path)
    except Exception as exc:  # the refusal is what the caller must see; say what it left behind
        add_note(ending, f"the run {created.path} created for this refused training could not be deleted ({exc})")
        _log.warning("could not delete the empty run %s left by a refused training: %s", created.path, exc)
        return False
    add_note(ending, f"nothing was trained: the empty run {created.path} created for it was deleted again")
    _log.warning("deleted run %s: the training was refused before it began and the run held nothing", created.path)
    return True
