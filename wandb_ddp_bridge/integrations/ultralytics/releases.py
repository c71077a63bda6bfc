"""Every per-release fact about Ultralytics the bridge relies on, in one table.

Each fact has the first release where it holds (and the first where it stopped holding, if it did). The
integration asks :func:`holds` instead of comparing version numbers itself, and ``doctor`` reads the tested
range and the facts from here too, so a new release boundary is one row. Every boundary was bisected over the
released 8.3.x/8.4.x wheels (wb.py, trainer.py, dist.py, base.py, utils/__init__.py; docs/compatibility.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

__all__ = [
    "COMPAT_MATRIX",
    "FACTS",
    "NEWEST_TESTED",
    "OLDEST_TESTED",
    "UNPARSABLE",
    "Fact",
    "describe",
    "holds",
    "installed",
    "parse",
    "tested",
]


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
        # --- whether and where the native W&B callback (utils/callbacks/wb.py) starts a run
        Fact(
            "native_wandb_default_on",
            "8.3.0",
            "8.3.23",
            "SETTINGS default 'wandb': True (utils/__init__.py). Only a FRESH settings.json gets the default: an older"
            " file keeps wandb=True across upgrades (schema 0.0.6 until 8.4.115, later migrations keep values)",
        ),
        Fact(
            "pretrain_start_in_init",
            "8.3.184",
            None,
            "BaseTrainer.__init__ adds the integration callbacks and runs on_pretrain_routine_start (RANK -1/0);"
            " before, that event ran in _setup_train, after the DDP/device setup",
        ),
        Fact(
            "native_init_in_ddp_parent",
            "8.3.184",
            "8.3.200",
            "the DDP launcher process (RANK -1) also runs on_pretrain_routine_start in __init__: with the callback"
            " on, parent AND worker rank 0 both wb.init a run",
        ),
        Fact(
            "ddp_decided_in_init",
            "8.3.200",
            None,
            "__init__ sets self.ddp (world_size > 1 and not a worker); the DDP parent adds no integration"
            " callbacks and runs none in __init__ (before: world_size is computed inside train())",
        ),
        Fact(
            "native_init_at_pretrain_end",
            "8.4.177",
            None,
            "wb.init runs at on_pretrain_routine_end (in _setup_train, after the model and dataloaders), not"
            " on_pretrain_routine_start; SETTINGS['wandb'] is read by add_integration_callbacks for each trainer"
            " (before: once per process, when wb.py is first imported)",
        ),
        # --- what it does to a run it did not create (wb.run already set)
        Fact(
            "native_finishes_foreign_run",
            "8.3.0",
            "8.4.184",
            "finishes the current run even if it did not create it: wb.run.finish() at on_train_end (until"
            " 8.4.177), then a static teardown callback wb.finish(exit_code=1 if an exception is in flight)",
        ),
        Fact(
            "native_finishes_at_teardown",
            "8.4.177",
            "8.4.184",
            "its static teardown callback (appended by add_integration_callbacks after the callbacks the trainer"
            " was built with) calls wb.finish() on any run, also after a failure; on_train_end finishes nothing",
        ),
        Fact(
            "native_explicit_step",
            "8.3.0",
            "8.4.184",
            "logs metrics, losses, lr, model info and plot images with step=epoch+1 (rows at or below the run's"
            " step are dropped by wandb); from 8.4.177 on_train_end plots use step=wb.run.step",
        ),
        Fact(
            "native_epoch_step_metric",
            "8.4.184",
            None,
            "logs an `epoch` key (no explicit step) and calls define_metric('<train|lr|metrics|val>/*',"
            " step_metric='epoch') ONLY on a run it created: an attached run gets no step metric from it",
        ),
        Fact(
            "native_config_setdefaults",
            "8.4.184",
            None,
            "at on_pretrain_routine_end also on a foreign run: wb.run.config.setdefaults(vars(trainer.args))",
        ),
        # --- what it logs (the bar for the bridge's own logger when the callback is off)
        Fact(
            "native_logs_panels",
            "8.3.0",
            None,
            "epoch 0: model/parameters, model/GFLOPs, model/speed_PyTorch(ms); each plot image once by file stem;"
            " on_train_end: curves/<curve> via wb.plot_table (wandb stores the tables as run_table artifacts;"
            " only with plots=True from 8.3.20) and best.pt as artifact run_<id>_model:best (needs save from"
            " 8.4.133)",
        ),
        Fact(
            "native_curves_unguarded",
            "8.3.0",
            "8.3.32",
            "on_train_end reads validator.metrics.curves_results without hasattr: AttributeError when no"
            " validation found a true positive (metrics.process never ran); until 8.3.20 even with plots=False"
            " (then empty prec_values -> ValueError in np.interp)",
        ),
        # --- trainer lifecycle and the DDP worker
        Fact(
            "teardown_only_after_success",
            "8.3.0",
            "8.4.177",
            "the `teardown` event runs only after a successful epoch loop, in DDP workers too (end of _do_train,"
            " from 8.4.124 after train()'s try/finally); from 8.4.177 in train()'s finally, not in the DDP parent",
        ),
        Fact(
            "ddp_worker_imports_trainer",
            "8.3.0",
            "8.4.140",
            "the DDP worker script does `from <module> import <Class>` and builds the trainer from the args only"
            " (no callbacks, no model from the parent): the class must be importable by module path",
        ),
        Fact(
            "ddp_worker_cloudpickle",
            "8.4.140",
            None,
            "the worker torch_loads a cloudpickled {trainer class, args, model, callbacks} and gets the parent's"
            " sys.path; needs cloudpickle>=3.1.1 (a wheel dependency until 8.4.172)",
        ),
        Fact(
            "ddp_cloudpickle_checked_at_launch",
            "8.4.172",
            None,
            "cloudpickle is no longer a dependency: generate_ddp_file runs check_requirements('cloudpickle>=3.1.1'),"
            " which may pip-install it at launch",
        ),
    )
}

#: The releases CI trains against (nox -s compat); the first and last bound the tested range.
COMPAT_MATRIX = ("8.3.0", "8.3.199", "8.3.253", "8.4.139", "8.4.176", "8.4.183", "8.4.190")
OLDEST_TESTED = COMPAT_MATRIX[0]
NEWEST_TESTED = COMPAT_MATRIX[-1]
#: The cloudpickle release Ultralytics requires for DDP from `ddp_worker_cloudpickle` on.
CLOUDPICKLE_FOR_DDP = "3.1.1"


#: What :func:`parse` gives a string that is no version: it sorts before every release.
UNPARSABLE = Version("0")


def parse(version: str) -> Version:
    """``"8.4.190"`` -> ``Version("8.4.190")``, compared as PEP 440 says (``8.4`` == ``8.4.0``). Only the release
    numbers count: a pre-release, dev or local build (``8.4.190rc1``, ``.dev0``, ``+cu121``) carries the
    behaviour of its release, so it is that release here. Not a version at all: :data:`UNPARSABLE`."""
    try:
        return Version(Version(version.strip()).base_version)
    except InvalidVersion:
        return UNPARSABLE


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
