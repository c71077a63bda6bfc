"""Hyperparameter search tests: the scenarios run as scripts (a sweep agent is a process of its own), with the
Ultralytics rig (``tests/ultralytics/ul_rig.py``) importable as the DDP workers import it."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # search_runner
sys.path.insert(0, str(HERE.parent / "ultralytics"))  # ul_rig
