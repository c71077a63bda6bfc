"""Runs a search scenario script (``sweep_scenario.py``, ``tune_scenario.py``) in a clean interpreter against the
local server, the way a user runs a sweep agent: its ``RESULT {...}`` line is parsed, its failure shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RIG = HERE.parent / "ultralytics"


def scenario_env(tmp_path: Path) -> dict[str, str]:
    """The test's environment (the server's settings included) for a fresh process: the rig and this folder
    on ``PYTHONPATH`` (DDP workers import the rig's trainer by module), Ultralytics offline, one thread."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "WANDB_SERVICE")}
    paths = [str(HERE), str(RIG), os.environ.get("PYTHONPATH", "")]
    env.update(
        YOLO_CONFIG_DIR=str(tmp_path / "yolo-config"),
        YOLO_OFFLINE="true",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
        PATH=os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))),
    )
    return env


def run_script(script: str, tmp_path: Path, options: dict[str, Any], *, timeout: float = 400) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(HERE / script), json.dumps({"workdir": str(tmp_path), **options})],
        env=scenario_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-8000:]
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, (done.stdout + done.stderr)[-8000:]
    return dict(json.loads(line[len("RESULT ") :]))
