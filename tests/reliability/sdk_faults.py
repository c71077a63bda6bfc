"""Fault injection at every point where the bridge calls the wandb SDK or exports the environment (tests only).

``SdkFaults.install(monkeypatch)`` wraps ``_wandb.init_new``, ``_wandb.finish``, ``_wandb.resume``,
``_wandb.update_summary`` and the run owner's ``exported``: every call is counted per point, and an armed fault
raises its exception on the n-th next call of its point, either ``before`` the real call (the call failed) or
``after`` it (the call succeeded, then the interruption landed: the hard case). Every finish that really
happened is recorded with its exit code, so a test can check "each run finished once, failed if anything
failed".
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from wandb_ddp_bridge import _wandb, owner

POINTS = ("init", "finish", "resume", "summary", "export")
_TARGETS: dict[str, tuple[Any, str]] = {
    "init": (_wandb, "init_new"),
    "finish": (_wandb, "finish"),
    "resume": (_wandb, "resume"),
    "summary": (_wandb, "update_summary"),
    "export": (owner, "exported"),  # the run owner exports the handoff descriptor
}
_serial = itertools.count(1)


@dataclass
class Fault:
    point: str
    nth: int  # fires on the nth call of ``point`` after arming
    when: str  # "before" | "after"
    kind: str  # "error" | "interrupt"
    exc: BaseException = field(init=False)

    def __post_init__(self) -> None:
        text = f"injected #{next(_serial)} {self.when} {self.point} call {self.nth}"
        self.exc = KeyboardInterrupt(text) if self.kind == "interrupt" else InjectedError(text)


class InjectedError(RuntimeError):
    """What an SDK call point raises when a fault of kind "error" fires."""


@dataclass(frozen=True)
class Finished:
    run: Any
    run_id: str
    exit_code: int


class SdkFaults:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.sequence: list[str] = []  # every call, in order: "point#n"
        self.armed: Fault | None = None
        self._armed_at = 0
        self.fired: list[Fault] = []
        self.finished: list[Finished] = []

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> SdkFaults:
        faults = cls()
        for point, (module, name) in _TARGETS.items():
            real = getattr(module, name)
            wrapper = faults._wrap_export(real) if point == "export" else faults._wrap(point, real)
            monkeypatch.setattr(module, name, wrapper)
        return faults

    def reset(self) -> None:
        self.calls.clear()
        self.sequence.clear()
        self.armed = None
        self.fired.clear()
        self.finished.clear()

    def arm(self, point: str, *, nth: int = 1, when: str = "before", kind: str = "error") -> Fault:
        self.armed = Fault(point, nth, when, kind)
        self._armed_at = self.calls[point]
        return self.armed

    def disarm(self) -> None:
        self.armed = None

    def _due(self, point: str) -> Fault | None:
        self.sequence.append(f"{point}#{self.calls[point]}")
        fault = self.armed
        if fault is None or fault.point != point or self.calls[point] - self._armed_at != fault.nth:
            return None
        self.armed = None
        self.fired.append(fault)
        return fault

    def _wrap(self, point: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls[point] += 1
            fault = self._due(point)
            if fault is not None and fault.when == "before":
                raise fault.exc
            result = real(*args, **kwargs)
            if point == "finish":
                run = args[0] if args else kwargs["run"]
                self.finished.append(Finished(run, run.id, kwargs["exit_code"]))
            if fault is not None:
                raise fault.exc
            return result

        return wrapper

    def _wrap_export(self, real: Callable[..., Any]) -> Callable[..., Any]:
        @contextmanager
        def exported(values: Any) -> Iterator[Any]:
            self.calls["export"] += 1
            fault = self._due("export")
            if fault is not None and fault.when == "before":
                raise fault.exc
            with real(values) as handle:
                if fault is not None:
                    raise fault.exc  # the variables were set: the real context restores them
                yield handle

        return exported
