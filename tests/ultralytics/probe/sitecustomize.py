"""Test probe: with $UL_PROBE_DIR set, every ``wandb.init`` call in this process leaves a marker file.

Loaded by Python at start-up from PYTHONPATH, in the test's driver, torchrun's launcher and every DDP worker.
The server alone cannot tell processes apart (they may share one wandb-core service), so this is how the
DDP test proves that rank 1 never opened or attached to a run. wandb is patched lazily, when first imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import itertools
import json
import os
import sys
import time
from typing import Any

_DIR = os.environ.get("UL_PROBE_DIR")
_counter = itertools.count()


def _record(kwargs: dict[str, Any]) -> None:
    assert _DIR is not None
    marker = {
        "pid": os.getpid(),
        "rank": os.environ.get("RANK"),
        "local_rank": os.environ.get("LOCAL_RANK"),
        "id": kwargs.get("id"),
        "resume": kwargs.get("resume"),
        "project": kwargs.get("project"),
        "time_ns": time.time_ns(),  # one clock for every process: the order of the calls, whatever the pids
    }
    path = os.path.join(_DIR, f"init-{os.getpid()}-{next(_counter)}.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(marker, file)


def _patch(module: Any) -> None:
    original = module.init

    def init(*args: Any, **kwargs: Any) -> Any:
        _record(kwargs)
        return original(*args, **kwargs)

    module.init = init


class _PatchWandbOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "wandb":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module: Any) -> None:
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_and_patch
        return spec


if _DIR:
    sys.meta_path.insert(0, _PatchWandbOnImport())
