"""Every test starts from an environment without launcher or W&B variables of the host."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from wandb_ddp_bridge.ranks import LAUNCHER_VARIABLES

sys.path.insert(0, str(Path(__file__).resolve().parent))  # support.py: the helpers the test folders share

# A runner that starts the suite in the background of a script (`... &`) hands it SIGINT ignored, and the bridge
# rightly leaves an ignored signal alone; the Ctrl-C tests need Python's own handler, in here and in children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    # a stale service address from an earlier in-process client must not be restored after the test
    os.environ.pop("WANDB_SERVICE", None)
    for name in list(os.environ):
        if name.startswith("WANDB_") or name in LAUNCHER_VARIABLES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_ERROR_REPORTING", "false")
    monkeypatch.setenv("WANDB_DISABLE_CODE", "true")
    monkeypatch.setenv("YOLO_OFFLINE", "true")  # Ultralytics 8.3.0 honours only the literal "true"
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("yolo-config")))
