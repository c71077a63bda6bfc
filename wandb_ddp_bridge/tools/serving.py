"""Foreground serving for ``serve`` and ``demo --serve``: block until Ctrl-C or SIGTERM, then return."""

from __future__ import annotations

import errno
import signal
import socket
import threading

__all__ = ["listen_failure", "wait_until_stopped"]


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


def listen_failure(exc: OSError) -> str:
    """What an ``OSError`` from binding the server's socket means, in words a user can act on."""
    if exc.errno == errno.EADDRINUSE:
        return "the port is in use by another program; pick another --port, or 0 for a free one"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address; use --host 127.0.0.1, 0.0.0.0 or one of its own addresses"
    if isinstance(exc, socket.gaierror):
        return f"the host is not a valid address or known name ({exc.strerror}); use e.g. --host 127.0.0.1"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied ({exc.strerror}); ports below 1024 need privileges: use a higher --port"
    return exc.strerror or str(exc)
