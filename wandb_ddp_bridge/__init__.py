"""wandb-ddp-bridge: one W&B run across pre-training, (DDP) training and post-training.

Importing the package is nearly free: every public name is loaded on first use (PEP 562), and wandb, torch
and ultralytics only when a session needs them.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing alone costs more than this whole package

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "attach": "attachment",
    "attached": "attachment",
    "attached_run": "attachment",
    "detach": "attachment",
    "BridgeConfig": "config",
    "tracked_training": "decorators",
    "HANDOFF_ENV_VAR": "env",
    "HandoffDescriptor": "env",
    "read_descriptor": "env",
    "AttachError": "errors",
    "BackendError": "errors",
    "BridgeError": "errors",
    "ConfigError": "errors",
    "PhaseError": "errors",
    "TrainingRefused": "errors",
    "Handoff": "handoff",
    "Terminated": "signals",
    "Preempted": "preemption",
    "DDPWorkerError": "integrations.ultralytics",
    "Phase": "phases",
    "RunState": "phases",
    "get_local_rank": "ranks",
    "get_rank": "ranks",
    "get_world_size": "ranks",
    "is_main_process": "ranks",
    "Session": "session",
    "wandb_session": "session",
}

__all__ = [
    "HANDOFF_ENV_VAR",
    "AttachError",
    "BackendError",
    "BridgeConfig",
    "BridgeError",
    "ConfigError",
    "DDPWorkerError",
    "Handoff",
    "HandoffDescriptor",
    "Phase",
    "PhaseError",
    "Preempted",
    "RunState",
    "Session",
    "Terminated",
    "TrainingRefused",
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

if TYPE_CHECKING:
    from typing import Any

    from .attachment import attach, attached, attached_run, detach
    from .config import BridgeConfig
    from .decorators import tracked_training
    from .env import HANDOFF_ENV_VAR, HandoffDescriptor, read_descriptor
    from .errors import AttachError, BackendError, BridgeError, ConfigError, PhaseError, TrainingRefused
    from .handoff import Handoff
    from .integrations.ultralytics import DDPWorkerError
    from .phases import Phase, RunState
    from .preemption import Preempted
    from .ranks import get_local_rank, get_rank, get_world_size, is_main_process
    from .session import Session, wandb_session
    from .signals import Terminated


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wandb_ddp_bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
