"""Foreground serving for ``serve`` and ``demo --serve``: block until Ctrl-C or SIGTERM, then return."""

from __future__ import annotations

import signal
import threading

__all__ = ["wait_until_stopped"]


def wait_until_stopped() -> None:
    """Block the main thread until SIGINT or SIGTERM (handled even where a shell started us ignoring SIGINT)."""
    stopped = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopped.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
