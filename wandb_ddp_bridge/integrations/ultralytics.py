"""Ultralytics: training lands in the handed-off run, in one process or as DDP workers, on every release.

The bridge trains with a *bridged* trainer class: a subclass of the model's (or your) trainer whose
``run_callbacks`` puts the bridge callbacks first on the start events and last on the end events, right
before they run (integration callbacks are added in the trainer's ``__init__``, user callbacks any time).
The callbacks act on global rank 0 only, checked when they run, because the same trainer class runs on every
DDP rank. They attach to the handed-off run before the native W&B callback starts (so it sees ``wandb.run``
and creates nothing), log the epochs themselves when the native callback is not active, and detach last.

Bridged classes are named ``Bridged<Base>`` for Ultralytics' own trainers and ``Bridged_<escaped module
path>`` for any other trainer, and are built on demand by this module's ``__getattr__``: releases before
8.4.140 rebuild the trainer in each DDP worker with ``from <module> import <Class>``, later ones unpickle it
by reference. Importing this module imports neither ultralytics, wandb nor torch.

Failures of a DDP launch: the bridge runs Ultralytics' ``torch.distributed.run`` command itself (same command,
same environment, stdout untouched; stderr copied through so the launcher's failure report can be read). When
a worker dies, ``h.train`` raises :class:`DDPWorkerError` — still a ``subprocess.CalledProcessError``, as
Ultralytics raises — naming the rank that failed first and its exit code. When the parent is interrupted
(Ctrl-C, or SIGTERM through the handoff), the launcher gets the same signal and the parent waits (bounded) for
it to stop its workers, so no worker outlives the parent or writes to the run after the parent resumed it. On
global rank 0 of a worker, the first SIGTERM (the launcher stopping its workers) unwinds training like an
exception, so the worker's ``teardown`` closes its attachment with exit code 1 and its logged epochs are
flushed to W&B before the process ends.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _log
from ..attach import attach, detach
from ..env import read_descriptor
from ..errors import AttachError, BridgeError, ConfigError
from ..ranks import is_main_process
from ..signals import SignalGuard

__all__ = [
    "DDPWorkerError",
    "TrainOutcome",
    "bridged_trainer",
    "native_wandb_active",
    "prepare_model",
    "restore_model",
    "train",
]

_PREFIX = "Bridged"
_NATIVE_WANDB_MODULE = "ultralytics.utils.callbacks.wb"
# Per-epoch metric families, plotted against `epoch` (the native callback from 8.4.184 does the same).
_EPOCH_METRICS = ("train/*", "lr/*", "metrics/*", "val/*")
_STATE_ATTR = "_wandb_ddp_bridge_state"
_ORIGINAL_TRAIN_ATTR = "_wandb_ddp_bridge_original_train"


@dataclass(frozen=True)
class TrainOutcome:
    """What one ``h.train(...)`` produced: Ultralytics' return value and where the weights are."""

    results: Any
    save_dir: Path | None
    best: Path | None
    last: Path | None


# ---------------------------------------------------------------------------------------------- training
def train(
    model: Any, *, devices: Any = None, trainer: type | None = None, **train_kwargs: Any
) -> TrainOutcome:
    """Run ``model.train(**train_kwargs)`` with a bridged trainer inside an open handoff.

    ``device`` defaults to ``devices`` (the config's GPU list or device string); ``trainer`` may be your own
    trainer class (it must be importable by module path when training spawns DDP workers).
    """
    if not _handoff_open()[0]:
        raise AttachError(
            "train(): no handed-off run in this process. Call it as `h.train(...)` inside "
            "`with session.handoff(model) as h:`."
        )
    if "device" not in train_kwargs and devices is not None:
        train_kwargs["device"] = _device_argument(devices)
    base = trainer if trainer is not None else _task_trainer(model)
    bridged = bridged_trainer(base, spawns_workers=_is_multi_device(train_kwargs.get("device")))
    original: Callable[..., Any] = getattr(model, _ORIGINAL_TRAIN_ATTR, None) or model.train
    try:
        results = original(trainer=bridged, **train_kwargs)
    except BaseException:
        # 8.3.0 runs `teardown` only after a successful epoch loop: close our attachment here as failed.
        detach(exit_code=1)
        raise
    detach(exit_code=0)  # no-op after the bridged teardown; closes it if a custom train() skipped teardown
    return _outcome(model, results)


def prepare_model(model: Any) -> Any:
    """Route this model's ``train`` through the bridge while a handoff is open. Idempotent; returns the model.

    Inside ``with session.handoff(model):`` a plain ``model.train(...)`` then trains with a bridged trainer
    exactly like ``h.train(...)`` (on every release, DDP included, since the bridged class is importable).
    Outside a handoff the wrapper calls Ultralytics' own ``train`` unchanged.
    """
    if getattr(model, _ORIGINAL_TRAIN_ATTR, None) is not None:
        return model
    original = model.train

    @functools.wraps(original)
    def bridged_train(trainer: type | None = None, **kwargs: Any) -> Any:
        inside, devices = _handoff_open()
        if not inside:
            return original(trainer=trainer, **kwargs)
        outcome = train(model, devices=devices, trainer=trainer, **kwargs)
        from ..handoff import active_handoff

        handoff = active_handoff()
        if handoff is not None:
            handoff.result = outcome  # as after h.train(...): weights and save dir for the POST phase
        return outcome.results

    # Instance attributes only: the class and every other model are untouched (see restore_model).
    object.__setattr__(model, _ORIGINAL_TRAIN_ATTR, original)
    object.__setattr__(model, "train", bridged_train)
    return model


def restore_model(model: Any) -> Any:
    """Undo :func:`prepare_model` (no-op if the model was not prepared); returns the model."""
    if getattr(model, _ORIGINAL_TRAIN_ATTR, None) is None:
        return model
    for name in ("train", _ORIGINAL_TRAIN_ATTR):
        model.__dict__.pop(name, None)
    return model


def _handoff_open() -> tuple[bool, Any]:
    """Whether this process is inside a handoff, and the devices configured for it.

    Global rank 0 (and any process it starts) finds the exported descriptor. The other ranks of a script that is
    itself launched by torchrun/Slurm export none (they never touch W&B) but train in-process too: there the open
    handoff of the no-op session says so.
    """
    descriptor = read_descriptor()
    if descriptor is not None:
        return True, descriptor.devices
    from ..handoff import active_handoff

    handoff = active_handoff()
    if handoff is not None:
        return True, handoff.devices
    return False, None


def _task_trainer(model: Any) -> type:
    try:
        trainer: type = model.task_map[model.task]["trainer"]
    except (AttributeError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot find the trainer class of {type(model).__name__} "
            f"(task {getattr(model, 'task', None)!r}) in its task_map ({exc!r}); "
            "pass one explicitly: h.train(trainer=YourTrainer, ...)"
        ) from None
    return trainer


def _device_argument(devices: Any) -> Any:
    if isinstance(devices, (list, tuple)):
        return ",".join(str(d) for d in devices)
    return devices


def _is_multi_device(device: Any) -> bool:
    if isinstance(device, (list, tuple)):
        return len(device) > 1
    return isinstance(device, str) and "," in device


def _outcome(model: Any, results: Any) -> TrainOutcome:
    trainer = getattr(model, "trainer", None)

    def path(name: str) -> Path | None:
        value = getattr(trainer, name, None)
        return Path(value) if value is not None else None

    return TrainOutcome(results=results, save_dir=path("save_dir"), best=path("best"), last=path("last"))


# ------------------------------------------------------------------------------------- bridged classes
class _BridgeMixin:
    """Mixed in front of a trainer class; keeps the bridge callbacks in place whenever they can run."""

    callbacks: dict[str, list[Callable[[Any], None]]]

    def run_callbacks(self, event: str) -> None:
        if event in _EVENTS:
            _install_callbacks(self)
        super().run_callbacks(event)  # type: ignore[misc]

    def train(self) -> Any:
        if _spawns_workers(self):
            # The in-process fast path keeps the run open in this process; workers must be able to resume it.
            from ..handoff import release_parent_run

            release_parent_run()
            with _supervised_launches(self):
                return super().train()  # type: ignore[misc]
        try:
            return super().train()  # type: ignore[misc]
        except BaseException:
            # Releases up to 8.4.1xx run `teardown` only after a successful loop, in a DDP worker too: close the
            # attachment as failed here (a no-op after teardown), or wandb's exit hook would end it with 0.
            if is_main_process():
                _close_attachment(self, exit_code=1)
            raise


def bridged_trainer(base: type, *, spawns_workers: bool = True) -> type:
    """The bridged subclass of ``base`` (itself if already bridged), importable from this module by name.

    With ``spawns_workers`` the base must be importable by module path (DDP workers rebuild it from there);
    otherwise a base defined in ``__main__`` or a function still gets a bridged class for in-process use.
    """
    if issubclass(base, _BridgeMixin):
        return base
    problem = _import_problem(base)
    if problem is None:
        cls: type = getattr(sys.modules[__name__], _class_name(base))
        return cls
    if spawns_workers:
        raise ConfigError(
            f"trainer class {base.__module__}.{base.__qualname__} cannot be rebuilt in the DDP worker "
            f"processes: {problem}. Move it into an importable module (a package, or a file on PYTHONPATH) "
            "and import it from there."
        )
    return _build(base, _PREFIX + base.__name__, register=False)


def _class_name(base: type) -> str:
    ultralytics_trainers = _ultralytics_trainers()
    if ultralytics_trainers.get(base.__name__) is base:
        return _PREFIX + base.__name__
    return f"{_PREFIX}_{_escape(base.__module__)}_2{_escape(base.__qualname__)}"


def _escape(text: str) -> str:
    # Identifier-safe and reversible: "_" -> "_1", "." -> "_0"; "_2" separates module and qualname.
    return text.replace("_", "_1").replace(".", "_0")


def _unescape_pair(encoded: str) -> tuple[str, str] | None:
    parts: list[str] = [""]
    chars = iter(encoded)
    for char in chars:
        if char != "_":
            parts[-1] += char
            continue
        code = next(chars, "")
        if code == "0":
            parts[-1] += "."
        elif code == "1":
            parts[-1] += "_"
        elif code == "2":
            parts.append("")
        else:
            return None
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def _import_problem(base: type) -> str | None:
    """Why ``base`` cannot be found again by ``module.qualname`` in another process (``None``: it can)."""
    if base.__module__ == "__main__":
        return "it is defined in __main__ (the worker's __main__ is Ultralytics' temporary DDP script)"
    if "<locals>" in base.__qualname__:
        return "it is defined inside a function"
    try:
        found = _resolve(base.__module__, base.__qualname__)
    except (ImportError, AttributeError) as exc:
        return f"importing it by module path failed ({exc!r})"
    return None if found is base else "its module path resolves to a different object"


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@functools.lru_cache(maxsize=1)
def _ultralytics_trainers() -> dict[str, type]:
    """Every trainer class Ultralytics ships, by class name (names are unique across its tasks)."""
    importlib.import_module("ultralytics.models")  # imports every task package and its trainer
    from ultralytics.engine.trainer import BaseTrainer

    found: dict[str, type] = {}
    pending: list[type] = [BaseTrainer]
    while pending:
        sub: type
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("ultralytics.") and not issubclass(sub, _BridgeMixin):
                found.setdefault(sub.__name__, sub)
    return found


def _build(base: type, name: str, *, register: bool) -> type:
    namespace = {
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"{base.__qualname__} whose training logs into the handed-off W&B run.",
    }
    cls = type(name, (_BridgeMixin, base), namespace)
    if register:
        globals()[name] = cls  # later lookups (pickle, `from ... import`) find the same class object
    return cls


def __getattr__(name: str) -> Any:
    """Build ``Bridged<Base>`` / ``Bridged_<escaped path>`` classes on first access (PEP 562)."""
    if not name.startswith(_PREFIX):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    rest = name[len(_PREFIX) :]
    if rest.startswith("_"):
        pair = _unescape_pair(rest[1:])
        if pair is None:
            raise AttributeError(f"{name!r} is not a bridged trainer name of {__name__}")
        try:
            base = _resolve(*pair)
        except (ImportError, AttributeError) as exc:
            raise AttributeError(
                f"{name!r}: cannot import trainer {pair[0]}.{pair[1]} in this process ({exc!r}); "
                "is its module on PYTHONPATH here?"
            ) from exc
    else:
        base = _ultralytics_trainers().get(rest)
        if base is None:
            raise AttributeError(f"{name!r}: Ultralytics has no trainer class named {rest!r}")
    return _build(base, name, register=True)


def _spawns_workers(trainer: Any) -> bool:
    """True in a process that is about to launch Ultralytics' DDP workers (never inside a worker)."""
    if "LOCAL_RANK" in os.environ:
        return False
    ddp = getattr(trainer, "ddp", None)  # 8.3.2xx and later decide in __init__
    if ddp is not None:
        return bool(ddp)
    return _is_multi_device(getattr(trainer.args, "device", None))  # 8.3.0 decides inside train()


# ----------------------------------------------------------------------------------------------- callbacks
@dataclass
class _State:
    """Per-trainer bookkeeping of the bridge callbacks (global rank 0 only)."""

    run: Any = None
    native: bool = False
    pending: dict[str, float] | None = None
    completed: bool = False
    logged_epochs: list[int] = field(default_factory=list)
    signals: SignalGuard | None = None


def native_wandb_active(trainer: Any) -> bool:
    """Whether Ultralytics' own W&B callback is registered on this trainer (setting on, not under pytest)."""
    return any(
        getattr(callback, "__module__", None) == _NATIVE_WANDB_MODULE
        for callbacks in trainer.callbacks.values()
        for callback in callbacks
    )


def _state(trainer: Any) -> _State:
    state: _State | None = getattr(trainer, _STATE_ATTR, None)
    if state is None:
        state = _State()
        setattr(trainer, _STATE_ATTR, state)
    return state


def _on_start(trainer: Any) -> None:
    """Attach before any native callback can create a run (8.3.0 starts one here)."""
    if is_main_process():
        state = _state(trainer)
        if state.signals is None and "LOCAL_RANK" in os.environ:
            # A launched DDP worker: torch.distributed.run stops its workers with SIGTERM or SIGINT (maybe both,
            # one after the other). Unwind once, so that teardown finishes the run and flushes its epochs.
            state.signals = SignalGuard(signal.SIGTERM, signal.SIGINT).install()
        state.run = attach()


def _on_pretrain_routine_end(trainer: Any) -> None:
    if not is_main_process():
        return
    state = _state(trainer)
    state.run = attach()  # idempotent; 8.4.190 starts its run at this event
    state.native = native_wandb_active(trainer)
    _log.debug("ultralytics: native W&B callback %s", "active" if state.native else "off, bridge logs epochs")
    if not state.native and state.run is not None:
        # What the native callback would record, namespaced so it never overrides the user's config keys.
        state.run.config.update({"ultralytics": _plain(vars(trainer.args))}, allow_val_change=True)
        state.run.define_metric("epoch")
        for pattern in _EPOCH_METRICS:
            state.run.define_metric(pattern, step_metric="epoch")


def _on_train_epoch_end(trainer: Any) -> None:
    if not is_main_process():
        return
    state = _state(trainer)
    if not state.native and trainer.tloss is not None:
        losses = trainer.label_loss_items(trainer.tloss, prefix="train")
        state.pending = _floats({**losses, **getattr(trainer, "lr", {})})


def _on_fit_epoch_end(trainer: Any) -> None:
    if not is_main_process():
        return
    state = _state(trainer)
    if state.native or state.run is None:
        return
    metrics = _floats(trainer.metrics or {})
    if state.pending is None:
        # No training epoch since the last row: this is the final validation of best.pt.
        state.run.summary.update({f"best/{key}": value for key, value in metrics.items()})
        return
    epoch = int(trainer.epoch) + 1
    # One row per epoch, no explicit step: the step metric is `epoch`, the history step just advances.
    state.run.log({**state.pending, **metrics, "epoch": epoch})
    state.pending = None
    state.logged_epochs.append(epoch)


def _on_train_end(trainer: Any) -> None:
    if not is_main_process():
        return
    state = _state(trainer)
    state.completed = True
    if state.native or state.run is None:
        return
    best = Path(trainer.best)
    if best.exists():
        import wandb

        artifact = wandb.Artifact(
            name=f"run_{state.run.id}_model",
            type="model",
            metadata={"epochs": state.logged_epochs[-1] if state.logged_epochs else 0, "file": best.name},
        )
        artifact.add_file(str(best))
        state.run.log_artifact(artifact, aliases=["best", "latest"])


def _on_teardown(trainer: Any) -> None:
    if not is_main_process():
        return
    state = _state(trainer)
    pending = _close_attachment(trainer, exit_code=0 if state.completed else 1)
    if pending is not None and state.completed:
        raise pending  # it arrived during the final finish; otherwise an error is already unwinding


def _close_attachment(trainer: Any, *, exit_code: int) -> BaseException | None:
    """``detach()``, with no signal cutting the finish short (the epochs are being flushed); the exception of a
    signal that arrived meanwhile, if any."""
    state = _state(trainer)
    guard, state.signals = state.signals, None
    if guard is not None:
        guard.defer()
    try:
        detach(exit_code=exit_code)
    finally:
        pending = guard.restore() if guard is not None else None
    return pending


_Callback = Callable[[Any], None]
# (event, callback, position): "first" runs before every native/user callback, "last" after all of them.
_PLAN: tuple[tuple[str, _Callback, str], ...] = (
    ("on_pretrain_routine_start", _on_start, "first"),
    ("on_pretrain_routine_end", _on_pretrain_routine_end, "first"),
    ("on_train_start", _on_start, "first"),
    ("on_train_epoch_end", _on_train_epoch_end, "first"),
    ("on_fit_epoch_end", _on_fit_epoch_end, "first"),
    ("on_train_end", _on_train_end, "last"),
    ("teardown", _on_teardown, "last"),
)
_EVENTS = frozenset(event for event, _, _ in _PLAN)
_OURS = frozenset(callback for _, callback, _ in _PLAN)


def _install_callbacks(trainer: Any) -> None:
    """Put the bridge callbacks in place on a private copy (the lists may be shared with the model)."""
    callbacks: defaultdict[str, list[_Callback]] = defaultdict(list)
    for event, registered in trainer.callbacks.items():
        callbacks[event] = [cb for cb in registered if cb not in _OURS]  # pickled by reference: same objects
    for event, callback, position in _PLAN:
        if position == "first":
            callbacks[event].insert(0, callback)
        else:
            callbacks[event].append(callback)
    trainer.callbacks = callbacks


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (bool, int, float, str, type(None))) else str(v) for k, v in values.items()}


def _floats(values: Any) -> dict[str, float]:
    return {str(key): float(value) for key, value in dict(values).items()}


# ------------------------------------------------------------------------------------------- DDP launch
_LAUNCHERS = ("torch.distributed.run", "torch.distributed.launch")
_STOP_TIMEOUT = 45.0  # torch.distributed.run gives its workers 30 s after the signal, then SIGKILLs them
_TAIL_BYTES = 64 * 1024
_ROOT_CAUSE = re.compile(
    r"Root Cause \(first observed failure\):.*?rank\s*:\s*(?P<rank>\d+)\s*\(local_rank:\s*(?P<local>\d+)\)"
    r".*?exitcode\s*:\s*(?P<code>-?\d+)(?:\s*\(pid:\s*(?P<pid>\d+)\))?",
    re.S,
)


class DDPWorkerError(subprocess.CalledProcessError, BridgeError):
    """A DDP worker failed, so the launcher (``torch.distributed.run``) exited non-zero.

    A ``subprocess.CalledProcessError`` like the one Ultralytics raises (``returncode`` and ``cmd`` are the
    launcher's), whose message names the global rank that failed first and how it ended; ``rank``,
    ``local_rank``, ``worker_exitcode`` and ``worker_pid`` are ``None`` when the launcher's report was not found.
    ``stderr`` holds the end of the launcher's error output.
    """

    def __init__(self, returncode: int, cmd: Any, report: str) -> None:
        super().__init__(returncode, cmd, None, report)
        found = _ROOT_CAUSE.search(report)
        self.rank = int(found["rank"]) if found else None
        self.local_rank = int(found["local"]) if found else None
        self.worker_exitcode = int(found["code"]) if found else None
        self.worker_pid = int(found["pid"]) if found and found["pid"] else None

    def __str__(self) -> str:
        launcher = f"the DDP launcher exited with status {self.returncode}"
        if self.rank is None or self.worker_exitcode is None:
            return f"{launcher}; its report of which worker failed is in the output above"
        code = self.worker_exitcode
        how = f"exited with code {code}"
        if code < 0:
            with suppress(ValueError):
                how = f"was killed by {signal.Signals(-code).name} (exit code {code})"
        pid = f", pid {self.worker_pid}" if self.worker_pid is not None else ""
        return f"DDP worker rank {self.rank} (local rank {self.local_rank}{pid}) {how}, so {launcher}"


class _LaunchingSubprocess:
    """Stands in for ``subprocess`` in the trainer's module while it launches DDP workers: only ``run`` of a
    ``torch.distributed`` command is the bridge's, every other name is the real module's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def run(*args: Any, **kwargs: Any) -> Any:
        cmd = args[0] if args else kwargs.get("args")
        if len(args) != 1 or set(kwargs) - {"check"} or not _is_launch(cmd):
            return subprocess.run(*args, **kwargs)
        return _run_launcher(cmd, check=bool(kwargs.get("check", False)))


_LAUNCHING_SUBPROCESS = _LaunchingSubprocess()


def _is_launch(cmd: Any) -> bool:
    return isinstance(cmd, (list, tuple)) and any(str(part) in _LAUNCHERS for part in cmd)


@contextmanager
def _supervised_launches(trainer: Any) -> Iterator[None]:
    """Route the DDP launch of ``trainer`` (Ultralytics' ``subprocess.run(cmd, check=True)``, or a trainer of
    yours that launches the same way) through :func:`_run_launcher`, for the duration of ``train()``."""
    names = {"ultralytics.engine.trainer"}
    names.update(cls.__module__ for cls in type(trainer).__mro__ if "train" in vars(cls))
    names.discard(__name__)
    patched = []
    for name in sorted(names):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "subprocess", None) is subprocess:
            setattr(module, "subprocess", _LAUNCHING_SUBPROCESS)  # noqa: B010
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            if getattr(module, "subprocess", None) is _LAUNCHING_SUBPROCESS:
                setattr(module, "subprocess", subprocess)  # noqa: B010


def _run_launcher(cmd: Any, *, check: bool) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run(cmd, check=check)`` for the DDP launcher, plus: its stderr is copied through to ours
    and its tail kept (to name the failed rank), and an interrupt of this process stops the launcher first."""
    tail = bytearray()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    copier = threading.Thread(
        target=_copy_stderr, args=(proc, tail), name="wandb-ddp-bridge-launcher-stderr", daemon=True
    )
    copier.start()
    try:
        try:
            returncode = proc.wait()
        except BaseException as exc:
            _stop_launcher(proc, signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM)
            raise
    finally:
        copier.join(timeout=5.0)  # workers that outlive the launcher would keep the pipe open
    report = bytes(tail).decode("utf-8", "replace")
    if check and returncode != 0:
        raise DDPWorkerError(returncode, cmd, report)
    return subprocess.CompletedProcess(cmd, returncode, None, bytes(tail))


def _copy_stderr(proc: subprocess.Popen[bytes], tail: bytearray) -> None:
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    try:
        while chunk := os.read(fd, 65536):
            with suppress(OSError):
                written = 0
                while written < len(chunk):  # where the launcher wrote before: this process's stderr
                    written += os.write(2, chunk[written:])
            tail.extend(chunk)
            del tail[:-_TAIL_BYTES]
    finally:
        proc.stderr.close()


def _stop_launcher(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Forward ``sig`` to the launcher (it stops its workers on SIGINT/SIGTERM) and wait for it, bounded."""
    if proc.poll() is not None:
        return
    print(
        f"wandb-ddp-bridge: stopping the DDP workers ({sig.name} to torch.distributed.run, pid {proc.pid}) "
        "before ending the run",
        file=sys.stderr,
        flush=True,
    )
    try:
        proc.send_signal(sig)
        proc.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except BaseException:
        proc.kill()  # interrupted again while waiting: the user insists
        proc.wait()
        raise
