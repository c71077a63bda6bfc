"""wandb-ddp-bridge: one W&B run across pre-training, (DDP) training and post-training.

Importing the package is cheap: wandb, torch and ultralytics are imported only when a session needs them.
"""

from __future__ import annotations

from .attach import attach, attached, attached_run, detach
from .config import BridgeConfig
from .decorators import tracked_training
from .env import HANDOFF_ENV_VAR, HandoffDescriptor, read_descriptor
from .errors import AttachError, BackendError, BridgeError, ConfigError, PhaseError
from .handoff import Handoff
from .phases import Phase
from .ranks import get_local_rank, get_rank, get_world_size, is_main_process
from .session import Session, wandb_session

__version__ = "0.1.0"

__all__ = [
    "HANDOFF_ENV_VAR",
    "AttachError",
    "BackendError",
    "BridgeConfig",
    "BridgeError",
    "ConfigError",
    "Handoff",
    "HandoffDescriptor",
    "Phase",
    "PhaseError",
    "Session",
    "__version__",
    "attach",
    "attached",
    "attached_run",
    "detach",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "is_main_process",
    "read_descriptor",
    "tracked_training",
    "wandb_session",
]
