"""The package logger, with the rank in every message so interleaved DDP output stays readable.

Library code reports through here, never with ``print``: ``wandb-ddp-bridge [rank 1]: ...``. Warnings reach
stderr even when the application configured no logging (Python's last-resort handler); configure the
``wandb_ddp_bridge`` logger to route or silence them. ``logging`` is imported on first use: the package
import stays cheap.
"""

from __future__ import annotations

import functools
from typing import Any

from .ranks import detect_world

LOGGER_NAME = "wandb_ddp_bridge"
_DEBUG, _WARNING = 10, 30  # logging.DEBUG, logging.WARNING without importing logging


@functools.lru_cache(maxsize=1)
def _logger() -> Any:
    import logging

    return logging.getLogger(LOGGER_NAME)


def rank_prefixed(message: str) -> str:
    """``"wandb-ddp-bridge [rank 1]: " + message``."""
    return f"wandb-ddp-bridge [rank {_rank_label()}]: {message}"


def debug(message: str, *args: object) -> None:
    logger = _logger()
    if logger.isEnabledFor(_DEBUG):
        logger.debug(rank_prefixed(message), *args)


def warning(message: str, *args: object) -> None:
    """Something the user must see (a fallback taken, a process being stopped, data kept elsewhere)."""
    _logger().warning(rank_prefixed(message), *args)


#: messages :func:`warn_once` has logged since the session in this process began
_WARNED: set[str] = set()


def warn_once(message: str) -> None:
    """A warning that repeats every epoch or every upload, logged once per session: a process that runs many
    sessions one after another (a sweep agent's trials) warns in each of them."""
    if message not in _WARNED:
        _WARNED.add(message)
        _logger().warning(rank_prefixed(message))


def forget_warnings() -> None:
    """A new session begins: its warnings are news again."""
    _WARNED.clear()


def _rank_label() -> str:
    try:
        return str(detect_world().rank)
    except Exception:
        return "?"
