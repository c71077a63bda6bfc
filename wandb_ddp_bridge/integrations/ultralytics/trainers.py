"""Bridged trainer classes: a subclass of the model's (or your) trainer that keeps the bridge callbacks in place.

``run_callbacks`` puts the bridge callbacks first on the start events and last on the end events right before
they run (integration callbacks are added in the trainer's ``__init__``, user callbacks any time). Classes are
named ``Bridged<Base>`` for Ultralytics' own trainers and ``Bridged_<escaped module path>`` for any other, and
are importable as ``wandb_ddp_bridge.integrations.ultralytics.<name>`` (built on first access): DDP workers
find the class by that dotted path, by ``from <module> import <Class>`` or by unpickling it (releases:
`ddp_worker_imports_trainer`, `ddp_worker_cloudpickle`).
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from ...errors import ConfigError
from ...ranks import is_main_process
from ...registry import Slot
from . import callbacks, context
from .launch import spawns_workers, supervised_launches

__all__ = ["PUBLIC_MODULE", "bridged_trainer", "build_by_name", "is_bridged"]

#: The module the bridged classes belong to (the package: the dotted path users and workers resolve).
PUBLIC_MODULE = __name__.rsplit(".", 1)[0]
_PREFIX = "Bridged"
#: name -> the bridged class built for it in this process (built once: pickle must find the same object)
_BUILT: Slot[dict[str, type]] = Slot("ultralytics bridged trainers", factory=dict)


class _BridgeMixin:
    """Mixed in front of a trainer class; keeps the bridge callbacks in place whenever they can run."""

    callbacks: dict[str, list[Any]]

    def run_callbacks(self, event: str) -> None:
        if event in callbacks.EVENTS:
            callbacks.install(self)
        super().run_callbacks(event)  # type: ignore[misc]

    def train(self) -> Any:
        args = getattr(self, "args", None)
        if spawns_workers(getattr(args, "device", None), ddp=getattr(self, "ddp", None)):
            # The in-process fast path keeps the run open in this process; workers must be able to resume it.
            ctx = context.current()
            if ctx is not None:
                ctx.release_parent_run()
            with supervised_launches(self):
                return super().train()  # type: ignore[misc]
        try:
            return super().train()  # type: ignore[misc]
        except BaseException:
            # Where `teardown_only_after_success` holds, teardown never runs after a failed loop, in a DDP worker
            # too: close the attachment as failed here (a no-op after teardown), or wandb's exit hook would end
            # it with 0.
            if is_main_process():
                callbacks.close_attachment(self, exit_code=1)
            raise


def is_bridged(cls: type) -> bool:
    return issubclass(cls, _BridgeMixin)


def bridged_trainer(base: type, *, spawns_workers: bool = True) -> type:
    """The bridged subclass of ``base`` (itself if already bridged), importable from the package by name.

    With ``spawns_workers`` the base must be importable by module path (DDP workers rebuild it from there);
    otherwise a base defined in ``__main__`` or a function still gets a bridged class for in-process use.
    """
    if is_bridged(base):
        return base
    problem = _import_problem(base)
    if problem is None:
        return build_by_name(_class_name(base))
    if spawns_workers:
        raise ConfigError(
            f"trainer class {base.__module__}.{base.__qualname__} cannot be rebuilt in the DDP worker "
            f"processes: {problem}. Move it into an importable module (a package, or a file on PYTHONPATH) "
            "and import it from there."
        )
    return _build(base, _PREFIX + base.__name__)


def build_by_name(name: str) -> type:
    """The class for a ``Bridged<Base>`` / ``Bridged_<escaped path>`` name (built once, then the same object:
    pickle and ``from ... import`` must find the class they were given). AttributeError for other names."""
    found = _BUILT.value().get(name)
    if found is not None:
        return found
    if not name.startswith(_PREFIX):
        raise AttributeError(f"module {PUBLIC_MODULE!r} has no attribute {name!r}")
    rest = name[len(_PREFIX) :]
    if rest.startswith("_"):
        pair = _unescape_pair(rest[1:])
        if pair is None:
            raise AttributeError(f"{name!r} is not a bridged trainer name of {PUBLIC_MODULE}")
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
    cls = _build(base, name)
    _BUILT.value()[name] = cls
    return cls


def _class_name(base: type) -> str:
    if _ultralytics_trainers().get(base.__name__) is base:
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
            if sub.__module__.startswith("ultralytics.") and not is_bridged(sub):
                found.setdefault(sub.__name__, sub)
    return found


def _build(base: type, name: str) -> type:
    namespace = {
        "__module__": PUBLIC_MODULE,
        "__qualname__": name,
        "__doc__": f"{base.__qualname__} whose training logs into the handed-off W&B run.",
    }
    return type(name, (_BridgeMixin, base), namespace)
