"""``python -m wandb_ddp_bridge``: the ``wandb-ddp-bridge`` command line."""

from __future__ import annotations

from .tools.cli import main

if __name__ == "__main__":
    main()
