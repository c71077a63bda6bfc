"""The local W&B server in a child process (``LocalWandbServer.spawn``): start it, stop it, drive its faults.

A test that must kill or restart the backend without touching its own process runs the server as a child;
``RemoteFaults`` gives it the same fault interface as ``Faults``, sent to the child's control endpoint.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from .endpoints import CONTROL_PREFIX

if TYPE_CHECKING:
    from .facade import ServerFacade

__all__ = ["RemoteFaults", "start_child", "stop_child"]


def start_child(
    *, port: int, host: str, data_dir: str, entity: str, crash_after: float, api_key: str, timeout: float
) -> tuple[subprocess.Popen[str], int]:
    """Start ``python -m wandb_ddp_bridge.testing`` and wait until it listens; returns it and its port.

    The key travels in the environment, not on the command line (``ps`` shows command lines). The child's
    stderr goes to ``server.log`` in the data dir: an unread pipe would block the child once it fills up.
    """
    cmd = [
        sys.executable,
        "-m",
        "wandb_ddp_bridge.testing",
        "--port",
        str(port),
        "--host",
        host,
        "--data-dir",
        data_dir,
        "--entity",
        entity,
        "--crash-after",
        str(crash_after),
    ]
    env = dict(os.environ, WANDB_LOCAL_SERVER_API_KEY=api_key)
    log_path = os.path.join(data_dir, "server.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    deadline = time.monotonic() + timeout
    line = ""
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("listening on ") or not line:
            break
    if not line.startswith("listening on "):
        proc.kill()
        proc.wait(timeout=5)
        with open(log_path, errors="replace") as log_file:
            err = log_file.read()[-2000:]
        raise RuntimeError(f"the spawned local W&B server did not start ({line!r}); its log: {err}")
    return proc, int(line.strip().rsplit(":", 1)[1])


def stop_child(proc: subprocess.Popen[str]) -> None:
    """Terminate the child (kill it when it does not exit within 5 s) and close its pipe."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


class RemoteFaults:
    """``Faults``' interface for a spawned server, over its control endpoint."""

    def __init__(self, server: ServerFacade) -> None:
        self._server = server

    def _post(self, payload: dict[str, Any]) -> None:
        req = urllib.request.Request(
            self._server.url + CONTROL_PREFIX + "faults",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Authorization": "Basic " + base64.b64encode(f"api:{self._server.api_key}".encode()).decode()},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def add(
        self,
        operation: str = "*",
        *,
        status: int | None = 500,
        times: int | None = 1,
        latency: float = 0.0,
        drop_connection: bool = False,
    ) -> None:
        self._post(
            {
                "action": "add",
                "operation": operation,
                "status": status,
                "times": times,
                "latency": latency,
                "drop_connection": drop_connection,
            }
        )

    def outage(self, seconds: float, *, status: int = 503, drop_connection: bool = False) -> None:
        self._post({"action": "outage", "seconds": seconds, "status": status, "drop_connection": drop_connection})

    def clear(self) -> None:
        self._post({"action": "clear"})
