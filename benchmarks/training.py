"""The tiny CPU training every benchmark times: ``yolov8n.yaml`` at 64 px on the generated dataset."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

__all__ = ["tiny_training_args"]


def tiny_training_args(data_yaml: Path, **overrides: Any) -> dict[str, Any]:
    """Ultralytics ``train`` arguments for 3 quiet CPU epochs into a fresh folder; ``overrides`` change any."""
    return {
        "data": str(data_yaml),
        "epochs": 3,
        "imgsz": 64,
        "batch": 4,
        "workers": 0,
        "plots": False,
        "device": "cpu",
        "amp": False,
        "verbose": False,
        "project": tempfile.mkdtemp(),
        **overrides,
    }
