"""The local server's own tests use the plugin's fixture even when the package is not pip-installed."""

from __future__ import annotations

from wandb_ddp_bridge.testing.pytest_plugin import wandb_server

__all__ = ["wandb_server"]
