"""@tracked_training: a train function becomes the training phase of a session.

Inside an open session, each call runs inside that session's handoff (and returns the function's result).
Outside one, a call runs a whole session from the decorator's cfg: create → handoff → function → resume →
finish. Every call builds a fresh manager, so a decorated function can be called many times, on any rank.

If the function has a parameter named ``handoff`` it receives the :class:`Handoff`; the first argument that an
integration recognises as its model (``integrations.find``: an Ultralytics model, say) is handed off with the
run, so a plain ``model.train(...)`` inside the function is bridged too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType
from typing import Any, TypeVar, overload

from .errors import ConfigError
from .handoff import Handoff
from .integrations import find
from .session import active_session, wandb_session

__all__ = ["tracked_training"]

F = TypeVar("F", bound=Callable[..., Any])


class _TrainingPhase:
    """One call's manager: joins the active session's handoff or opens a session of its own."""

    def __init__(self, cfg: Any, overrides: dict[str, Any], model: Any = None) -> None:
        self._cfg = cfg
        self._overrides = overrides
        self._model = model
        self._stack = ExitStack()
        self.handoff: Handoff | None = None

    def __enter__(self) -> Handoff:
        session = active_session()
        try:
            if session is None:
                if self._cfg is None and not self._overrides:
                    raise ConfigError(
                        "@tracked_training was called outside a wandb_session and has no config: use "
                        "@tracked_training(cfg) or call the function inside `with wandb_session(cfg):`"
                    )
                session = self._stack.enter_context(wandb_session(self._cfg, **self._overrides))
            self.handoff = self._stack.enter_context(session.handoff(self._model))
        except BaseException:
            self._stack.close()
            raise
        return self.handoff

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return bool(self._stack.__exit__(exc_type, exc, tb))


@overload
def tracked_training(func: F, /) -> F: ...
@overload
def tracked_training(cfg: Any = None, /, **overrides: Any) -> Callable[[F], F]: ...


def tracked_training(cfg_or_func: Any = None, /, **overrides: Any) -> Any:
    """``@tracked_training`` or ``@tracked_training(cfg, **overrides)`` on a training function."""
    if callable(cfg_or_func) and not overrides and _is_plain_function(cfg_or_func):
        return _decorate(cfg_or_func, None, {})
    return lambda func: _decorate(func, cfg_or_func, overrides)


def _is_plain_function(obj: Any) -> bool:
    import inspect  # lazily: inspect costs several ms at package import

    return inspect.isfunction(obj) or inspect.ismethod(obj)


def _decorate(func: F, cfg: Any, overrides: dict[str, Any]) -> F:
    import inspect

    signature = inspect.signature(func)
    wants_handoff = "handoff" in signature.parameters

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        model = _find_model(args, kwargs)
        with _TrainingPhase(cfg, overrides, model) as handoff:
            if wants_handoff and "handoff" not in kwargs:
                bound = signature.bind_partial(*args, **kwargs)
                if "handoff" not in bound.arguments:
                    kwargs["handoff"] = handoff
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _find_model(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    for value in (*args, *kwargs.values()):
        if find(value) is not None:
            return value
    return None
