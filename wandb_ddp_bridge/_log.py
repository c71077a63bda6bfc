"""Debug logging that carries the rank, so interleaved DDP output stays readable."""

from __future__ import annotations

import functools
import logging

from .ranks import detect_world

logger = logging.getLogger("wandb_ddp_bridge")


def debug(message: str, *args: object) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("[rank %s] " + message, _rank_label(), *args)


def warn_once(message: str) -> None:
    _warn_once(message)


@functools.lru_cache(maxsize=128)
def _warn_once(message: str) -> None:
    logger.warning("[rank %s] %s", _rank_label(), message)


def _rank_label() -> str:
    try:
        return str(detect_world().rank)
    except Exception:
        return "?"
