"""The local server names the process behind each writer session (pid, command, launcher rank variables)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

CLIENT = """
import os, wandb
run = wandb.init(project="procs")
run.log({"x": 1})
print("PID", os.getpid(), run.entity + "/" + run.project + "/" + run.id)
run.finish()
"""


def _client(server: Any, tmp_path: Path, **env: str) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    environ.update(server.env(), WANDB_DIR=str(tmp_path), **env)
    out = subprocess.run(
        [sys.executable, "-c", CLIENT], env=environ, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    _, pid, path = next(line for line in out.splitlines() if line.startswith("PID ")).split()
    return int(pid), path


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="the server reads /proc (Linux)")
def test_a_session_records_the_program_behind_wandb_core_and_its_rank_variables(
    wandb_server: Any, tmp_path: Path
) -> None:
    pid, path = _client(wandb_server, tmp_path, RANK="0", WORLD_SIZE="2", LOCAL_RANK="0", UNRELATED="1")
    (session,) = wandb_server.run(path).sessions
    process = session.process
    assert process is not None
    assert process.pid == pid  # the Python program, not its wandb-core service
    assert process.via == "wandb-core" and process.via_pid not in (None, pid)
    assert "-c" in process.command
    assert process.env == {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}  # only the launcher's variables


def test_the_records_endpoint_answers_with_the_key_only(wandb_server: Any, tmp_path: Path) -> None:
    _, path = _client(wandb_server, tmp_path)
    url = f"{wandb_server.url}/__local__/records/{path}"
    token = base64.b64encode(f"api:{wandb_server.api_key}".encode()).decode()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})) as r:
        records = json.loads(r.read())
    assert records["path"] == path and records["created_count"] == 1 and records["runs_on_backend"] == 1
    assert [s["exit_code"] for s in records["sessions"]] == [0]
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(url)
    assert denied.value.code == 401
