"""The runs the browser tests look at, each made by real clients against a local server that serves pages.

- the demo (``python -m wandb_ddp_bridge demo --serve``): its own embedded server, kept up until SIGINT;
- a DDP run: made by ``run_scenario_subprocess`` of ``tests/ultralytics/ul_checks.py`` (the Ultralytics
  scenario in a clean subprocess, CPU DDP rig: 2 gloo ranks through Ultralytics' own launcher), plots on, so
  the page also shows Ultralytics' images;
- an escaping run: name, config and metric keys carrying script/HTML injections.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Sets ``window.__pwned`` if it ever runs; the pages must show it as text.
PAYLOAD_SCRIPT = "<script>window.__pwned = 'name'</script>"
PAYLOAD_IMG = '"><img src=x onerror="window.__pwned=\'config\'">'
PAYLOAD_METRIC = "train/<img src=x onerror=window.__pwned='metric'>"


@dataclass
class DemoProcess:
    """A running ``demo --serve``: the page link, the server's protocol address and key, the folder of its
    records (``LocalWandbServer(records_dir).run(run_path)`` reads them), its output."""

    proc: subprocess.Popen[str]
    page_url: str
    base_url: str
    api_key: str
    run_path: str
    records_dir: str
    output: list[str]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)


def start_demo(workdir: Path, *, timeout: float = 240.0, extra: tuple[str, ...] = ()) -> DemoProcess:
    """Start ``demo --serve`` and wait until it serves the run page (its output says so)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(YOLO_OFFLINE="1", YOLO_CONFIG_DIR=str(workdir / "yolo-config"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_ddp_bridge", "demo", "--serve", *extra],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.strip().startswith("export WANDB_API_KEY="):
                ready.set()
        ready.set()  # it ended: let the caller see why

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout) or proc.poll() is not None:
        proc.kill()
        raise AssertionError("the demo did not start serving its run page:\n" + "".join(output)[-6000:])
    text = "".join(output)
    found = {
        name: re.search(pattern, text, re.MULTILINE)
        for name, pattern in {
            "page": r"^run page\s+: (\S+)$",
            "base": r"export WANDB_BASE_URL=(\S+)",
            "key": r"export WANDB_API_KEY=(\S+)",
            "run": r"^run\s+: (\S+)$",
            "records": r"\(records in (\S+)\)$",
        }.items()
    }
    missing = [name for name, match in found.items() if match is None]
    if missing:
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"demo output lacks {missing}:\n{text[-4000:]}")
    return DemoProcess(
        proc,
        page_url=found["page"].group(1),  # type: ignore[union-attr]
        base_url=found["base"].group(1),  # type: ignore[union-attr]
        api_key=found["key"].group(1),  # type: ignore[union-attr]
        run_path=found["run"].group(1),  # type: ignore[union-attr]
        records_dir=found["records"].group(1),  # type: ignore[union-attr]
        output=output,
    )


def verify_html(run_path: str, base_url: str, api_key: str, target: Path) -> subprocess.CompletedProcess[str]:
    """``wandb-ddp-bridge verify RUN --html FILE`` in a subprocess, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_SILENT="true", WANDB_DIR=str(target.parent))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "wandb_ddp_bridge",
            "verify",
            run_path,
            "--base-url",
            base_url,
            "--api-key",
            api_key,
            "--html",
            str(target),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_escaping_run(server: Any, workdir: Path) -> str:
    """A run whose name, config and metric keys carry injections; returns its path."""
    code = f"""
import wandb
run = wandb.init(project="escaping", name={PAYLOAD_SCRIPT!r}, group={PAYLOAD_IMG!r},
                 config={{{PAYLOAD_IMG!r}: {PAYLOAD_IMG!r}, "epochs": 2, "nested": {{"x": {PAYLOAD_SCRIPT!r}}}}})
for epoch in (1, 2):
    run.log({{"epoch": epoch, {PAYLOAD_METRIC!r}: 1.0 / epoch, "train/box_loss": 2.0 / epoch}})
run.summary["bridge_phases"] = {{"pre_start": 0.0}}
print("PATH", run.entity + "/" + run.project + "/" + run.id)
run.finish()
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(server.env())
    env["WANDB_DIR"] = str(workdir)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return next(ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("PATH "))
