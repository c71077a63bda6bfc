"""The package import stays light, and every public name resolves."""

from __future__ import annotations

import subprocess
import sys

import wandb_ddp_bridge


def test_every_public_name_resolves() -> None:
    for name in wandb_ddp_bridge.__all__:
        assert getattr(wandb_ddp_bridge, name) is not None
    assert set(wandb_ddp_bridge.__all__) - {"__version__"} == set(wandb_ddp_bridge._EXPORTS)


def test_import_and_star_import_load_no_heavy_framework() -> None:
    code = (
        "import sys, wandb_ddp_bridge\n"
        "from wandb_ddp_bridge import *\n"
        "print(sorted(m for m in ('wandb', 'torch', 'ultralytics', 'boto3') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        wandb_ddp_bridge.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_public_functions_stay_functions_after_their_modules_are_imported() -> None:
    import importlib

    import wandb_ddp_bridge as bridge

    for name, module in bridge._EXPORTS.items():
        importlib.import_module(f"wandb_ddp_bridge.{module}")
        assert getattr(bridge, name) is getattr(importlib.import_module(f"wandb_ddp_bridge.{module}"), name), name
    assert callable(bridge.attach) and bridge.attach.__module__ == "wandb_ddp_bridge.attachment"
