"""DDP launch supervision: when training spawns workers, and what happens if one fails or we are interrupted.

Ultralytics launches DDP by writing a temporary script and running ``python -m torch.distributed.run`` with
``subprocess.run(cmd, check=True)``. While a bridged trainer trains, that one call is routed through
:func:`run_launcher` (same command, same environment, stdout untouched): the launcher's stderr is copied through
and its tail kept, so a failure names the rank that failed first (:class:`DDPWorkerError`); an interrupt of this
process (Ctrl-C, or SIGTERM through the handoff) is forwarded to the launcher and waited for (bounded), so no
worker outlives the parent or writes to the run after the parent resumed it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from ... import _log
from ...errors import BridgeError
from ...ranks import detect_world

__all__ = ["DDPWorkerError", "multi_device", "run_launcher", "spawns_workers", "supervised_launches"]

_LAUNCHERS = ("torch.distributed.run", "torch.distributed.launch")
_STOP_TIMEOUT = 45.0  # torch.distributed.run gives its workers 30 s after the signal, then SIGKILLs them
_TAIL_BYTES = 64 * 1024
_ROOT_CAUSE = re.compile(
    r"Root Cause \(first observed failure\):.*?rank\s*:\s*(?P<rank>\d+)\s*\(local_rank:\s*(?P<local>\d+)\)"
    r".*?exitcode\s*:\s*(?P<code>-?\d+)(?:\s*\(pid:\s*(?P<pid>\d+)\))?",
    re.S,
)


def multi_device(device: Any) -> bool:
    """Whether Ultralytics' ``device`` argument names more than one device (``"0,1"``, ``[0, 1]``)."""
    if isinstance(device, (list, tuple)):
        return len(device) > 1
    return isinstance(device, str) and "," in device


def spawns_workers(device: Any, *, ddp: bool | None = None) -> bool:
    """The one rule for "this training launches DDP worker processes".

    Never inside a process that torchrun itself started (Ultralytics then trains in-process on every rank).
    Otherwise the trainer's own decision (``ddp``, set in ``__init__`` where the release has it, see
    releases ``ddp_decided_in_init``), else the device list, which is how the oldest releases decide.
    """
    if detect_world().launcher == "torchrun":
        return False
    if ddp is not None:
        return ddp
    return multi_device(device)


class DDPWorkerError(subprocess.CalledProcessError, BridgeError):
    """A DDP worker failed, so the launcher (``torch.distributed.run``) exited non-zero.

    A ``subprocess.CalledProcessError`` like the one Ultralytics raises (``returncode`` and ``cmd`` are the
    launcher's), whose message names the global rank that failed first and how it ended; ``rank``,
    ``local_rank``, ``worker_exitcode`` and ``worker_pid`` are ``None`` when the launcher's report was not found.
    ``stderr`` holds the end of the launcher's error output.
    """

    def __init__(self, returncode: int, cmd: Any, report: str) -> None:
        super().__init__(returncode, cmd, None, report)
        found = _ROOT_CAUSE.search(report)
        self.rank = int(found["rank"]) if found else None
        self.local_rank = int(found["local"]) if found else None
        self.worker_exitcode = int(found["code"]) if found else None
        self.worker_pid = int(found["pid"]) if found and found["pid"] else None

    def __str__(self) -> str:
        launcher = f"the DDP launcher exited with status {self.returncode}"
        if self.rank is None or self.worker_exitcode is None:
            return f"{launcher}; its report of which worker failed is in the output above"
        code = self.worker_exitcode
        how = f"exited with code {code}"
        if code < 0:
            with suppress(ValueError):
                how = f"was killed by {signal.Signals(-code).name} (exit code {code})"
        pid = f", pid {self.worker_pid}" if self.worker_pid is not None else ""
        return f"DDP worker rank {self.rank} (local rank {self.local_rank}{pid}) {how}, so {launcher}"


class _LaunchingSubprocess:
    """Stands in for ``subprocess`` in the trainer's module while it launches DDP workers: only ``run`` of a
    ``torch.distributed`` command is the bridge's, every other name is the real module's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def run(*args: Any, **kwargs: Any) -> Any:
        cmd = args[0] if args else kwargs.get("args")
        if len(args) != 1 or set(kwargs) - {"check"} or not _is_launch(cmd):
            return subprocess.run(*args, **kwargs)
        return run_launcher(cmd, check=bool(kwargs.get("check", False)))


_LAUNCHING_SUBPROCESS = _LaunchingSubprocess()


def _is_launch(cmd: Any) -> bool:
    return isinstance(cmd, (list, tuple)) and any(str(part) in _LAUNCHERS for part in cmd)


@contextmanager
def supervised_launches(trainer: Any) -> Iterator[None]:
    """Route the DDP launch of ``trainer`` (Ultralytics' ``subprocess.run(cmd, check=True)``, or a trainer of
    yours that launches the same way) through :func:`run_launcher`, for the duration of ``train()``."""
    names = {"ultralytics.engine.trainer"}
    names.update(cls.__module__ for cls in type(trainer).__mro__ if "train" in vars(cls))
    names.discard(__name__)
    patched = []
    for name in sorted(names):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "subprocess", None) is subprocess:
            setattr(module, "subprocess", _LAUNCHING_SUBPROCESS)  # noqa: B010
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            if getattr(module, "subprocess", None) is _LAUNCHING_SUBPROCESS:
                setattr(module, "subprocess", subprocess)  # noqa: B010


def run_launcher(cmd: Any, *, check: bool) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run(cmd, check=check)`` for the DDP launcher, plus: its stderr is copied through to ours
    and its tail kept (to name the failed rank), and an interrupt of this process stops the launcher first."""
    tail = bytearray()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    copier = threading.Thread(
        target=_copy_stderr, args=(proc, tail), name="wandb-ddp-bridge-launcher-stderr", daemon=True
    )
    copier.start()
    try:
        try:
            returncode = proc.wait()
        except BaseException as exc:
            _stop_launcher(proc, signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM)
            raise
    finally:
        copier.join(timeout=5.0)  # workers that outlive the launcher would keep the pipe open
    report = bytes(tail).decode("utf-8", "replace")
    if check and returncode != 0:
        raise DDPWorkerError(returncode, cmd, report)
    return subprocess.CompletedProcess(cmd, returncode, None, bytes(tail))


def _copy_stderr(proc: subprocess.Popen[bytes], tail: bytearray) -> None:
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    try:
        while chunk := os.read(fd, 65536):
            with suppress(OSError):
                written = 0
                while written < len(chunk):  # where the launcher wrote before: this process's stderr
                    written += os.write(2, chunk[written:])
            tail.extend(chunk)
            del tail[:-_TAIL_BYTES]
    finally:
        proc.stderr.close()


def _stop_launcher(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Forward ``sig`` to the launcher (it stops its workers on SIGINT/SIGTERM) and wait for it, bounded."""
    if proc.poll() is not None:
        return
    _log.warning(
        "stopping the DDP workers (%s to torch.distributed.run, pid %s) before ending the run", sig.name, proc.pid
    )
    try:
        proc.send_signal(sig)
        proc.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except BaseException:
        proc.kill()  # interrupted again while waiting: the user insists
        proc.wait()
        raise
