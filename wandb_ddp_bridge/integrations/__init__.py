"""Framework integrations behind one small protocol, owned by the core.

A handoff given a model asks :func:`find` which integration trains it, enters ``integration.prepare(model,
ctx)`` on its ``ExitStack`` (so every wrapper the integration installs is removed when the handoff ends) and
routes ``h.train(...)`` to ``integration.train(model, ctx, ...)``. The integration receives only a
:class:`TrainingContext`: the devices to train on, a way to release the run the parent still holds, and a way
to record what training produced. It never imports the session or the handoff.

The registry is lazy: an integration's module is imported only when :func:`find` is asked about a model, and
no framework (ultralytics, torch) is imported until a model of its kind is seen.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["REGISTRY", "Integration", "TrainingContext", "find"]


@dataclass(frozen=True)
class TrainingContext:
    """What an integration may know about the handoff it trains in.

    ``devices``: the session config's devices (``None``: the framework's default). ``release_parent_run``:
    close the run this process still holds (in-process fast path) before starting processes that must resume
    it; a no-op when nothing is held. ``record_result``: keep what training produced (``h.result``).
    ``preemption_*``: how to wind training down when the job is preempted.
    """

    devices: Any
    release_parent_run: Callable[[], None]
    record_result: Callable[[Any], None]
    #: signals that mean "preempted" while training runs in this process, and how long training then gets to
    #: stop at a safe point and save before it is cut off (see ``wandb_ddp_bridge.preemption``)
    preemption_signals: tuple[int, ...] = ()
    preemption_grace: float = 10.0


@runtime_checkable
class Integration(Protocol):
    """How the core drives one training framework."""

    name: str

    def matches(self, model: Any) -> bool:
        """Whether ``model`` belongs to this framework (duck-typed; must not import the framework)."""
        ...

    def prepare(self, model: Any, ctx: TrainingContext) -> AbstractContextManager[None]:
        """Install what routes the model's own training through the bridge; undo it on exit."""
        ...

    def train(self, model: Any, ctx: TrainingContext, **train_kwargs: Any) -> Any:
        """Train ``model`` inside the handoff; return what the framework's own train call returns."""
        ...

    def tune(self, model: Any, ctx: TrainingContext, **tune_kwargs: Any) -> Any:
        """Run the framework's hyperparameter search on ``model`` inside the handoff (``BridgeError`` when the
        framework has none)."""
        ...


#: name -> module whose ``INTEGRATION`` attribute implements :class:`Integration`, checked in this order.
REGISTRY: dict[str, str] = {
    "ultralytics": "wandb_ddp_bridge.integrations.ultralytics",
}


def find(model: Any) -> Integration | None:
    """The integration that trains ``model``, or ``None`` (the handoff then just hands the run over)."""
    if model is None:
        return None
    for module_name in REGISTRY.values():
        integration: Integration = importlib.import_module(module_name).INTEGRATION
        if integration.matches(model):
            return integration
    return None
