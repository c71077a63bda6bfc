"""A background uploader that never stalls the code submitting to it: one job in flight, the newest one queued.

Checkpoints are written every epoch, uploads take longer than that on a slow link; what matters for a restart
is the newest one. So a job submitted while another waits replaces it, and the caller never blocks except in
:meth:`LatestOnlyUploader.wait`, which is bounded. A job that raises is contained: counted, warned once, the
uploader goes on. On Linux the uploader's thread runs at a lower CPU priority (``nice``) than the code that
submits to it, so on busy cores the training it serves gets the CPU first.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)

__all__ = ["BACKGROUND_NICENESS", "Job", "LatestOnlyUploader"]

#: How much lower than its process the uploader's thread runs (Linux ``nice`` increment; threads it starts,
#: such as boto3's transfer pool, inherit it). Separate processes such as W&B's ``wandb-core`` are unaffected.
BACKGROUND_NICENESS = 10


class Job(Protocol):
    """One upload: ``run()`` does it (on the uploader's thread); ``discard()`` frees what it holds when a newer
    job replaced it before it ran."""

    def run(self) -> None: ...

    def discard(self) -> None: ...


class LatestOnlyUploader:
    """Runs submitted jobs one at a time on a daemon thread; a queued job is replaced by a newer one."""

    def __init__(self, what: str, *, niceness: int = BACKGROUND_NICENESS) -> None:
        self._what = what
        self._niceness = niceness
        self._lock = threading.Condition()
        self._queued: Job | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.errors = 0
        self.replaced = 0
        self.done = 0

    def submit(self, job: Job) -> None:
        """Queue ``job`` (replacing a queued one); start the thread on first use. Never blocks on an upload."""
        with self._lock:
            if self._closed:
                return
            if self._queued is not None:
                self.replaced += 1
                self._queued.discard()
            self._queued = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"wandb-ddp-bridge-{self._what}", daemon=True)
                self._thread.start()
            self._lock.notify_all()

    def wait(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight, at most ``timeout`` seconds; whether it all finished."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._lock:
            while self._queued is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self, timeout: float) -> bool:
        """:meth:`wait`, then accept nothing more (the thread ends once idle); whether everything finished."""
        finished = self.wait(timeout)
        with self._lock:
            self._closed = True
            if self._queued is not None:
                self._queued.discard()
            self._queued = None
            self._lock.notify_all()
        return finished

    def _loop(self) -> None:
        _lower_this_threads_priority(self._niceness)
        while True:
            with self._lock:
                while self._queued is None and not self._closed:
                    self._lock.wait()
                if self._queued is None:
                    return
                job, self._queued, self._busy = self._queued, None, True
            try:
                job.run()
                self.done += 1
            except Exception as exc:  # contained: an upload that fails never ends the training it serves
                self.errors += 1
                report = log.warning if self.errors == 1 else log.debug  # warned once per uploader
                report("%s failed and was skipped (%s: %s); training goes on", self._what, type(exc).__name__, exc)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()


def _lower_this_threads_priority(increment: int) -> None:
    """Make the calling thread ``increment`` nicer. Linux schedules threads as tasks and takes a thread id in
    ``setpriority``; elsewhere that id would name a process (or nothing), so nothing is changed there."""
    if increment <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + increment)
    except OSError as exc:  # a sandbox may forbid it; the uploads only compete with training as before
        log.debug("could not lower the uploader's CPU priority: %r", exc)
