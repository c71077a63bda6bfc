"""Upload an offline copy the way a user would: with the ``wandb sync`` command the bridge's warning gave."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys


def sync_command(log_text: str, run_id: str) -> str:
    """The one ``wandb sync --id <run_id> ...`` command the bridge logged (fails unless there is exactly one)."""
    commands = re.findall(rf"wandb sync --id {re.escape(run_id)} .*", log_text)
    assert len(commands) == 1, f"expected one sync command for run {run_id}, found {commands}:\n{log_text[-3000:]}"
    return str(commands[0])


def run_sync(command: str) -> None:
    """Run the logged command with this interpreter's wandb, against the server the environment names."""
    synced = subprocess.run(
        [sys.executable, "-m", "wandb", *shlex.split(command)[1:]], capture_output=True, text=True, timeout=120
    )
    assert synced.returncode == 0, synced.stdout + synced.stderr
