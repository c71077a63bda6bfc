"""Ultralytics tests: the rig's modules on sys.path (as the DDP workers import them), Ultralytics offline.

The local W&B server comes from the package's pytest plugin (`wandb_server`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ul_rig, ul_scenario, ul_checks
