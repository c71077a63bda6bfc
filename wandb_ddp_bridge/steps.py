"""Explicit history steps of a training, rebased onto the run's step counter, so no row is ever dropped.

wandb drops, with only a warning, a row logged with an explicit ``step`` behind the run's step counter (wandb#5632).
Ultralytics' own W&B callback logs its epochs with ``step=epoch+1`` on releases with the `native_explicit_step` fact
(releases.py), and a training child may log with steps of its own: after anything was logged before training (PRE
rows), or when a second training follows a first, those rows would be lost. While a :class:`StepRebaser` is
installed on a run, an explicit step ``s`` is logged at ``base + (s - first)``: ``first`` is the first explicit step
seen, ``base`` the run's next step at that moment (its step when training attached, unless rows without a step came
first). Rows keep their order, rows of one step still merge, and a row for a step already committed goes into the
run's current row instead of being dropped. Calls without a step pass through unchanged.

This module is the one adapter where the bridge replaces part of the wandb SDK: the run's ``log`` (and
``wandb.log`` while it points at this run, since wandb binds ``wandb.log`` to the run's original method), for
as long as a rebaser is installed; :func:`uninstall` puts both back. Why a replacement: W&B offers no supported
way to change where an explicit ``step=`` lands. Its supported tool, ``define_metric(name, step_metric=...)``,
only plots a metric against another logged key; the history step is still the one the caller passed, and
wandb still drops the row when that step is behind its counter. The caller here is third-party code (Ultralytics'
own callback, a user's loop), which the bridge cannot make log a custom x-axis key instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from . import _log
from .registry import Slot

__all__ = ["StepRebaser", "install", "installed", "uninstall"]

#: The rebaser installed in this process (at most one: one process logs to one run).
_INSTALLED: Slot[StepRebaser] = Slot("step rebaser")


class StepRebaser:
    """Maps the explicit steps logged into one run; see the module docstring for the mapping."""

    def __init__(self, run: Any, *, next_step: int) -> None:
        self.run = run
        self.next_step = next_step  # the run's step of the next row, tracked the way wandb tracks it
        self.first: int | None = None
        self.base: int | None = None
        self.open_row = False  # data logged into the current row without committing it
        self._log: Callable[..., None] = run.log  # the bound method of the run's class
        self._module_log: Any = None

    def target(self, step: int) -> int:
        """Where explicit step ``step`` lands (may be behind :attr:`next_step`: then the current row)."""
        if self.first is None or self.base is None:
            self.first, self.base = step, self.next_step
        return self.base + step - self.first

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """``run.log`` with the step rebased (same signature, same commit rules)."""
        if step is None:
            self._log(data, commit=commit)
            self._advance(data, commit is None or commit)
            return
        target = self.target(int(step))
        if target < self.next_step:
            # That step's row was committed already; wandb would drop this. Keep it in the current row
            # (a step given without commit accumulates; wandb's rule for a call without a step would commit).
            self._log(data, commit=bool(commit))
        else:
            self._log(data, step=target, commit=commit)
            self.next_step = target
        self._advance(data, bool(commit))

    def _advance(self, data: Mapping[str, Any], committed: bool) -> None:
        if committed:
            self.next_step += 1
            self.open_row = False
        elif data:
            self.open_row = True

    def close_row(self) -> None:
        """Commit the row training left open (releases that log with steps never commit their last one), so
        the next ``log()`` (post-training) starts a row of its own."""
        if self.open_row:
            self.log({}, commit=True)

    def attach(self) -> None:
        """Route the run's ``log`` (and ``wandb.log`` while it points at this run) through :meth:`log`."""
        import wandb

        self.run.log = self.log
        if wandb.run is self.run:
            self._module_log = wandb.log
            wandb.log = self.log

    def detach(self) -> None:
        """Commit the row left open and put back what :meth:`attach` replaced (unless wandb already did)."""
        import wandb

        try:
            self.close_row()
        except Exception as exc:  # the run was finished meanwhile (finish() flushed the row itself)
            _log.debug("could not commit the last training row: %r", exc)
        if vars(self.run).get("log") == self.log:
            del self.run.log
        if self._module_log is not None and wandb.log == self.log:
            wandb.log = self._module_log  # after finish() wandb already put its own back


def install(run: Any) -> StepRebaser:
    """Rebase the explicit steps logged into ``run`` from now on; idempotent for the same run."""
    current = _INSTALLED.get()
    if current is not None:
        if current.run is run:
            return current
        uninstall()
    # A resumed run answers `step` with 0 until it logs (wandb 0.31); its `starting_step` is the counter then.
    start = int(getattr(run, "starting_step", 0) or 0)
    with contextlib.suppress(Exception):  # a mode without a step counter ("shared") raises
        start = max(start, int(run.step))
    rebaser = StepRebaser(run, next_step=start)
    _INSTALLED.set(rebaser)
    rebaser.attach()
    _log.debug("rebasing explicit steps of run %s from step %s", getattr(run, "id", "?"), start)
    return rebaser


def uninstall() -> None:
    """Remove the rebaser (no-op when none is installed)."""
    rebaser = _INSTALLED.clear()
    if rebaser is not None:
        rebaser.detach()


def installed() -> StepRebaser | None:
    """The rebaser installed in this process, if any."""
    return _INSTALLED.get()
