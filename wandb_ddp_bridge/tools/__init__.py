"""Tooling beside the library: the command line, the demo, ``doctor``, ``verify`` and a synthetic dataset.

The library never imports this package; these modules may print. Each one is imported only by the command
that needs it, so ``wandb-ddp-bridge --help`` stays instant.
"""

from __future__ import annotations

__all__: list[str] = []
