"""Every per-release fact about Ultralytics the bridge relies on, in one table.

Each fact has the first release where it holds (and the first where it stopped holding, if it did). The
integration asks :func:`holds` instead of comparing version numbers itself, and ``doctor`` reads the tested
range and the facts from here too, so a new release boundary is one row. Facts were read from the released
wheels and measured against the local W&B-protocol server (docs/compatibility.md).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = [
    "COMPAT_MATRIX",
    "FACTS",
    "NEWEST_TESTED",
    "OLDEST_TESTED",
    "Fact",
    "describe",
    "holds",
    "installed",
    "parse",
    "tested",
]

Version = tuple[int, ...]


@dataclass(frozen=True)
class Fact:
    """A behaviour of Ultralytics that holds from ``since`` (inclusive) until ``until`` (exclusive)."""

    name: str
    since: str
    until: str | None
    what: str


FACTS: dict[str, Fact] = {
    fact.name: fact
    for fact in (
        Fact(
            "native_wandb_default_on",
            "8.3.0",
            "8.3.200",
            "the W&B setting defaults to on; its callback starts a run at on_pretrain_routine_start",
        ),
        Fact(
            "native_finishes_foreign_run",
            "8.3.0",
            "8.4.177",
            "the native callback calls wandb.run.finish() at on_train_end, even on a run it did not create",
        ),
        Fact(
            "native_explicit_step",
            "8.3.0",
            "8.4.184",
            "the native callback logs with step=epoch+1 (rows behind the run's step are dropped by wandb)",
        ),
        Fact(
            "native_epoch_step_metric",
            "8.4.184",
            None,
            "the native callback logs an `epoch` key and define_metric(..., step_metric='epoch')",
        ),
        Fact(
            "ddp_decided_in_init",
            "8.3.200",
            None,
            "the trainer sets `ddp` in __init__ (8.3.0 decides inside train() from the device string)",
        ),
        Fact(
            "teardown_only_after_success",
            "8.3.0",
            "8.4.184",
            "the `teardown` event runs only after a successful epoch loop, in DDP workers too",
        ),
        Fact(
            "ddp_worker_imports_trainer",
            "8.3.0",
            "8.4.140",
            "the DDP worker script does `from <module> import <Class>` for the trainer (must be importable)",
        ),
        Fact(
            "ddp_worker_cloudpickle",
            "8.4.140",
            None,
            "the DDP worker unpickles {trainer class, args, model, callbacks}; needs cloudpickle>=3.1.1",
        ),
        Fact(
            "native_init_at_pretrain_end",
            "8.4.177",
            None,
            "the native callback starts its run at on_pretrain_routine_end and only when the setting is on",
        ),
    )
}

#: The releases CI trains against (nox -s compat); the first and last bound the tested range.
COMPAT_MATRIX = ("8.3.0", "8.3.253", "8.4.139", "8.4.176", "8.4.190")
OLDEST_TESTED = COMPAT_MATRIX[0]
NEWEST_TESTED = COMPAT_MATRIX[-1]
#: The cloudpickle release Ultralytics requires for DDP from `ddp_worker_cloudpickle` on.
CLOUDPICKLE_FOR_DDP = "3.1.1"


def parse(version: str) -> Version:
    """``"8.4.190"`` -> ``(8, 4, 190)``; anything after the numeric part (``.dev0``, ``rc1``) is ignored."""
    numbers = re.match(r"^\s*(\d+(?:\.\d+)*)", version)
    return tuple(int(part) for part in numbers.group(1).split(".")) if numbers else ()


@functools.lru_cache(maxsize=1)
def installed() -> str | None:
    """The installed Ultralytics release, read from package metadata (no import of ultralytics)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("ultralytics")
    except importlib.metadata.PackageNotFoundError:
        return None


def holds(name: str, version: str | None = None) -> bool:
    """Whether fact ``name`` holds for ``version`` (default: the installed release)."""
    fact = FACTS[name]
    release = version if version is not None else installed()
    if release is None:
        return False
    current = parse(release)
    if current < parse(fact.since):
        return False
    return fact.until is None or current < parse(fact.until)


def tested(version: str) -> bool:
    """Whether ``version`` lies inside the range the compat matrix proves."""
    return parse(OLDEST_TESTED) <= parse(version) <= parse(NEWEST_TESTED)


def describe(version: str) -> list[str]:
    """One line per fact that holds for ``version`` (doctor prints them)."""
    return [f"{fact.name}: {fact.what}" for fact in FACTS.values() if holds(fact.name, version)]
