"""The bridge's callbacks on a trainer: one table, the global-rank-0 check applied once.

They attach to the handed-off run before the native W&B callback starts (so it sees ``wandb.run`` and creates
nothing), let :mod:`.runlog` log the training when the native callback is not active, and detach last.
Ultralytics runs callbacks on every rank and the same trainer class runs on every DDP rank, so whether this
process is global rank 0 is decided when a callback runs, by :class:`RankZeroCallback`, never when it was
registered. W&B logging, ours and the native callback's, is contained (:mod:`.containment`): it may fail,
the training goes on.
"""

from __future__ import annotations

import signal
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ... import _log
from ...attachment import attach, detach
from ...preemption import PreemptionWatch
from ...ranks import detect_world, is_main_process
from ...signals import SignalGuard
from . import context
from .checkpoints import finish_uploads, submit_checkpoint
from .containment import contain, contained, is_native
from .launch import spawns_workers
from .resume import record_run
from .runlog import LOGGER_NAME, EpochLogger

__all__ = ["EVENTS", "ROWS", "RankZeroCallback", "close_attachment", "install", "native_wandb_active"]

_STATE_ATTR = "_wandb_ddp_bridge_state"


@dataclass
class _State:
    """Per-trainer bookkeeping of the bridge callbacks (global rank 0 only)."""

    run: Any = None
    native: bool = False
    log: EpochLogger | None = None
    completed: bool = False
    signals: SignalGuard | None = None
    preemption: PreemptionWatch | None = None


def native_wandb_active(trainer: Any) -> bool:
    """Whether Ultralytics' own W&B callback is registered on this trainer (setting on, not under pytest)."""
    return any(is_native(callback) for callbacks in trainer.callbacks.values() for callback in callbacks)


def _state(trainer: Any) -> _State:
    state: _State | None = getattr(trainer, _STATE_ATTR, None)
    if state is None:
        state = _State()
        setattr(trainer, _STATE_ATTR, state)
    return state


# ------------------------------------------------------------------------------ what each event does
def _on_start(trainer: Any) -> None:
    """Attach before any native callback can create a run (where `native_wandb_default_on` holds, it starts
    one at on_pretrain_routine_start)."""
    state = _state(trainer)
    if state.signals is None and detect_world().launcher == "torchrun":
        # A launched DDP worker: torch.distributed.run stops its workers with SIGTERM or SIGINT (maybe both,
        # one after the other). Unwind once, so that teardown finishes the run and flushes its epochs.
        state.signals = SignalGuard(signal.SIGTERM, signal.SIGINT).install()
    elif state.preemption is None and not spawns_workers(
        getattr(trainer.args, "device", None), ddp=getattr(trainer, "ddp", None)
    ):
        ctx = context.current()  # training in this very process: wind it down gracefully when preempted
        if ctx is not None and ctx.preemption_signals:
            state.preemption = PreemptionWatch(
                ctx.preemption_signals, ctx.preemption_grace, lambda signum: _preempting(trainer, state)
            ).install()
    state.run = attach()


def _preempting(trainer: Any, state: _State) -> None:
    """In the signal handler: the run is marked preempting from a thread (no I/O in a signal handler); training
    stops when the epoch under way has ended and saved its checkpoint (``_on_train_epoch_start``).

    Not Ultralytics' own ``trainer.stop``: a stopped training runs its final evaluation, which strips
    ``last.pt`` of its optimizer and epoch, and the next attempt could not resume from it."""
    run = state.run

    def tell() -> None:
        _log.warning(
            "preemption signal: training stops once the current epoch is saved, and the run is marked preempting"
        )
        if run is not None:
            with contained("the bridge (mark_preempting)", "preemption"):
                run.mark_preempting()

    threading.Thread(target=tell, name="wandb-ddp-bridge-preempting", daemon=True).start()


def end_preemption_watch(trainer: Any, *, raise_if_preempted: bool) -> None:
    """Put the signal handlers back; then, if the job was preempted, raise :class:`Preempted` (exit non-zero)."""
    state: _State | None = getattr(trainer, _STATE_ATTR, None)
    watch = state.preemption if state is not None else None
    if watch is None or state is None:
        return
    state.preemption = None
    watch.restore()
    if raise_if_preempted:
        watch.check()


def _on_pretrain_routine_end(trainer: Any) -> None:
    state = _state(trainer)
    state.run = attach()  # idempotent; where `native_init_at_pretrain_end` holds, the native run starts here
    state.native = native_wandb_active(trainer)
    _log.debug("ultralytics: native W&B callback %s", "active" if state.native else "off, bridge logs epochs")
    if state.run is not None:
        record_run(getattr(trainer, "save_dir", None))  # a resumed attempt finds this run from the checkpoint
    if not state.native and state.run is not None and state.log is None:
        state.log = EpochLogger(state.run)
        with contained(LOGGER_NAME, "on_pretrain_routine_end"):
            state.log.start(trainer)


def _on_train_epoch_start(trainer: Any) -> None:
    """The safe point to stop for a preemption: the previous epoch's row is logged and ``last.pt`` saved."""
    watch = _state(trainer).preemption
    if watch is not None:
        watch.check()


def _on_train_epoch_end(trainer: Any) -> None:
    """In a DDP worker: from here to the end of ``on_fit_epoch_end`` the epoch is validated and ``last.pt`` saved
    (``save_model`` writes it before ``on_model_save`` runs), but its row is not logged yet. A stop signal in
    between would lose the row for good (the next attempt resumes after this epoch), so it is held, within the
    guard's grace, until every ``on_fit_epoch_end`` callback has run."""
    state = _state(trainer)
    if state.signals is not None:
        state.signals.defer()
    log = state.log
    if log is not None:
        with contained(LOGGER_NAME, "on_train_epoch_end"):
            log.train_epoch_end(trainer)


def _on_fit_epoch_end(trainer: Any) -> None:
    log = _state(trainer).log
    if log is not None:
        with contained(LOGGER_NAME, "on_fit_epoch_end"):
            log.fit_epoch_end(trainer)


def _after_model_save(trainer: Any) -> None:
    """``last.pt`` of this epoch is on disk: hand a copy to the checkpoint uploader (``checkpoints`` setting)."""
    with contained("the bridge (checkpoint upload)", "on_model_save"):
        submit_checkpoint(trainer, _state(trainer).run)


def _after_fit_epoch_end(trainer: Any) -> None:
    """The epoch's row is logged (by the bridge or the native callback): a stop signal held meanwhile acts now."""
    guard = _state(trainer).signals
    pending = guard.release() if guard is not None else None
    if pending is not None:
        raise pending


def _on_train_end(trainer: Any) -> None:
    state = _state(trainer)
    state.completed = True
    if state.log is not None:
        with contained(LOGGER_NAME, "on_train_end"):
            state.log.train_end(trainer)


def _on_teardown(trainer: Any) -> None:
    state = _state(trainer)
    if state.preemption is not None and state.preemption.received is not None:
        state.completed = False  # stopped early by a preemption: the attachment ends non-zero
    pending = close_attachment(trainer, exit_code=0 if state.completed else 1)
    if pending is not None and state.completed:
        raise pending  # it arrived during the final finish; otherwise an error is already unwinding


def close_attachment(trainer: Any, *, exit_code: int) -> BaseException | None:
    """``detach()``, with no signal cutting the finish short (the epochs are being flushed); the exception of a
    signal that arrived meanwhile, if any."""
    state = _state(trainer)
    guard, state.signals = state.signals, None
    if guard is not None:
        guard.defer()
    try:
        finish_uploads(trainer, stopped=exit_code != 0)  # while the run is still attached
        detach(exit_code=exit_code)
    finally:
        pending = guard.restore() if guard is not None else None
    return pending


# ------------------------------------------------------------------------------------------- the table
_Handler = Callable[[Any], None]
# (event, position, what it does): "first" runs before every native/user callback, "last" after all of them.
ROWS: tuple[tuple[str, str, _Handler], ...] = (
    ("on_pretrain_routine_start", "first", _on_start),
    ("on_pretrain_routine_end", "first", _on_pretrain_routine_end),
    ("on_train_start", "first", _on_start),
    ("on_train_epoch_start", "first", _on_train_epoch_start),
    ("on_train_epoch_end", "first", _on_train_epoch_end),
    ("on_model_save", "last", _after_model_save),
    ("on_fit_epoch_end", "first", _on_fit_epoch_end),
    ("on_fit_epoch_end", "last", _after_fit_epoch_end),
    ("on_train_end", "last", _on_train_end),
    ("teardown", "last", _on_teardown),
)
_HANDLERS: dict[tuple[str, str], _Handler] = {(event, position): handler for event, position, handler in ROWS}
EVENTS = frozenset(event for event, _, _ in ROWS)


@dataclass(frozen=True)
class RankZeroCallback:
    """The bridge's callback for one row of the table: runs its handler on global rank 0, does nothing elsewhere.

    A plain picklable object (releases with `ddp_worker_cloudpickle` send the callbacks to the workers).
    """

    event: str
    position: str = "first"

    def __call__(self, trainer: Any) -> None:
        if is_main_process():
            _HANDLERS[(self.event, self.position)](trainer)


def install(trainer: Any) -> None:
    """Put the bridge callbacks in place on a private copy (the lists may be shared with the model), and
    contain the native W&B callbacks."""
    callbacks: defaultdict[str, list[Callable[[Any], None]]] = defaultdict(list)
    for event, registered in trainer.callbacks.items():
        callbacks[event] = [contain(event, cb) for cb in registered if not isinstance(cb, RankZeroCallback)]
    for event, position, _ in ROWS:
        ours = RankZeroCallback(event, position)
        if position == "first":
            callbacks[event].insert(0, ours)
        else:
            callbacks[event].append(ours)
    trainer.callbacks = callbacks
