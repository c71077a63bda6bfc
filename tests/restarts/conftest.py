"""Restart tests that train a real model use the Ultralytics rig (tests/ultralytics), as its own tests do."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ultralytics"))  # ul_rig, ul_checks
