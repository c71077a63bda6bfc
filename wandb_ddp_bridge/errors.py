"""Exceptions raised by the bridge.

Every message says what happened and what to do next; none ever contains an API key.
"""

from __future__ import annotations

__all__ = ["AttachError", "BackendError", "BridgeError", "ConfigError", "PhaseError", "TrainingRefused"]


class BridgeError(Exception):
    """Base class of every error the bridge raises on purpose."""


class ConfigError(BridgeError, ValueError):
    """A configuration value is missing or invalid (the message names field, value and source)."""


class TrainingRefused(ConfigError):
    """``h.train()`` refused its arguments before training began (a checkpoint of another run, ``resume=True``
    with no checkpoint anywhere, a denied checkpoint bucket): nothing was trained. A run that the session
    created for this attempt and that holds nothing of the caller's is deleted again, so the refusal leaves
    no empty failed run behind."""


class PhaseError(BridgeError, RuntimeError):
    """A session method was called in a phase where it would lose or misplace data."""


class AttachError(BridgeError, RuntimeError):
    """A child process could not re-attach to the handed-off run."""


class BackendError(BridgeError, RuntimeError):
    """The W&B backend could not be reached or refused a request the bridge depends on."""
