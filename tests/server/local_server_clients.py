"""Helpers for the local server tests: raw HTTP calls and wandb client scenarios in subprocesses."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from wandb_ddp_bridge.testing import LocalWandbServer


def client_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # WANDB_SERVICE may point at the service of an in-process client of an earlier test, long gone
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "WANDB_SERVICE")}
    env.update(extra or {})
    env.pop("WANDB_SERVICE", None)
    return env


def run_client(code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run ``code`` in a fresh interpreter (clean wandb singleton); return stdout; fail on exit != 0."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=client_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"client failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def start_client(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=client_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"api:{key}".encode()).decode()


def post(
    server: LocalWandbServer,
    path: str,
    payload: Any,
    *,
    key: str | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, Any]:
    """POST JSON with the server's (or the given) API key; returns (status, parsed body or None)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Authorization": auth(key or server.api_key)}
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None
    finally:
        if own:
            conn.close()


def gql(server: LocalWandbServer, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> tuple[int, Any]:
    return post(server, "/graphql", {"query": query, "variables": variables or {}, "operationName": ""}, **kw)
