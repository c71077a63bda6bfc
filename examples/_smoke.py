"""Shared by the examples: ``--smoke`` turns any of them into a CPU run on a generated dataset (used by the
tests in tests/tools/test_examples.py). Not part of what an example teaches."""

from __future__ import annotations

import tempfile
from typing import Any


def smoke_train_kwargs() -> dict[str, Any]:
    """Two epochs of yolov8n at 64 px on 8 generated images, on CPU, nothing downloaded."""
    from wandb_ddp_bridge.tools.datasets import make_detection_dataset

    root = tempfile.mkdtemp(prefix="wdb-example-")
    return {
        "data": str(make_detection_dataset(root)),
        "epochs": 2,
        "imgsz": 64,
        "batch": 4,
        "workers": 0,
        "plots": False,
        "amp": False,
        "project": f"{root}/runs",
        "name": "train",
        "exist_ok": True,
    }
