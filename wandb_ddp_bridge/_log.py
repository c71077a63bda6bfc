"""Debug logging that carries the rank, so interleaved DDP output stays readable.

``logging`` is imported on first use: the package import stays cheap.
"""

from __future__ import annotations

import functools
from typing import Any

from .ranks import detect_world

LOGGER_NAME = "wandb_ddp_bridge"


@functools.lru_cache(maxsize=1)
def _logger() -> Any:
    import logging

    return logging.getLogger(LOGGER_NAME)


def debug(message: str, *args: object) -> None:
    logger = _logger()
    if logger.isEnabledFor(10):  # logging.DEBUG
        logger.debug("[rank %s] " + message, _rank_label(), *args)


def warn_once(message: str) -> None:
    _warn_once(message)


@functools.lru_cache(maxsize=128)
def _warn_once(message: str) -> None:
    _logger().warning("[rank %s] %s", _rank_label(), message)


def _rank_label() -> str:
    try:
        return str(detect_world().rank)
    except Exception:
        return "?"
