"""``h.tune(...)`` and a plain ``model.tune(...)`` inside a handoff: Ultralytics' Tuner, every iteration a W&B run.

Ultralytics trains each tuner iteration in a ``yolo train`` subprocess that loads none of the parent's callbacks
(so a training's own W&B logging there would open an unrelated run, in a project named after a path). The
bridge keeps that search unchanged and writes each iteration's run itself, in this process, the moment the
Tuner records the iteration (``Tuner._save_local_result``, before it deletes the iteration's directory):

- the run's config is that iteration's hyperparameters, with the trainer's arguments (``args.yaml``) under
  ``ultralytics``; its history is the epochs of ``results.csv``; its panels the plot images; its summary the
  fitness and final metrics; it is grouped under the session's group (the session run's id when it has none),
  ``job_type="tune-trial"``, and it ends ``failed`` when the iteration's training failed (the search goes on);
- the session's run is the search: once the Tuner ends, it receives the ``tune/iterations`` table, the best
  fitness, iteration and hyperparameters in its summary, and ``best_hyperparameters.yaml`` as an artifact.

The iteration subprocesses get ``WANDB_MODE=disabled`` and none of the handoff's run variables, so a W&B
callback there can neither open a run of its own nor resume the session's.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import _log, _wandb
from ...attachment import attached
from ...env import EnvSnapshot, read_descriptor
from ...errors import AttachError, ConfigError
from .. import TrainingContext

__all__ = ["JOB_TYPE", "TrialRecord", "TuneOutcome", "tune"]

JOB_TYPE = "tune-trial"
#: What the iteration subprocesses must not see: the handoff's run, and a W&B mode that would log.
_CHILD_VARIABLES = ("WANDB_MODE", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_DDP_BRIDGE_HANDOFF")


@dataclass(frozen=True)
class TrialRecord:
    """One tuner iteration as the search's table lists it."""

    iteration: int
    fitness: float
    hyperparameters: dict[str, Any]
    run_id: str
    failed: bool


@dataclass(frozen=True)
class TuneOutcome:
    """What one ``h.tune(...)`` produced (``h.result``): the tune directory, every iteration, the best one."""

    tune_dir: Path
    trials: tuple[TrialRecord, ...]
    best: TrialRecord | None
    best_hyperparameters: dict[str, Any] | None


@dataclass
class _IterationRuns:
    """Writes one W&B run per recorded iteration, beside the session's handed-off run."""

    project: str
    entity: str | None
    mode: str
    dir: str | None
    group: str
    trials: list[TrialRecord] = field(default_factory=list)

    def record(self, result: dict[str, Any]) -> None:
        iteration = int(result["iteration"])
        hyperparameters = dict(result.get("hyperparameters") or {})
        save_dirs = [Path(p) for p in (result.get("save_dirs") or {}).values()]
        failed = bool(result.get("failed_datasets")) or not any(m for m in (result.get("datasets") or {}).values())
        config: dict[str, Any] = {**hyperparameters, "tune_iteration": iteration}
        arguments = _read_yaml(save_dirs[0] / "args.yaml") if save_dirs else None
        if arguments is not None:
            config["ultralytics"] = arguments
        run = _wandb.init_beside(
            project=self.project,
            entity=self.entity,
            mode=self.mode,
            dir=self.dir,
            config=config,
            name=f"{self.group}-tune-{iteration}",
            group=self.group,
            job_type=JOB_TYPE,
        )
        try:
            for save_dir in save_dirs:
                _log_iteration(run, save_dir)
            run.summary.update({"fitness": float(result.get("fitness") or 0.0), "tune_iteration": iteration})
        finally:
            _wandb.finish(run, exit_code=1 if failed else 0)
        trial = TrialRecord(iteration, float(result.get("fitness") or 0.0), hyperparameters, run.id, failed)
        self.trials.append(trial)
        _log.debug("tuner iteration %s: run %s (%s)", iteration, run.id, "failed" if failed else "finished")


def tune(model: Any, ctx: TrainingContext, *, iterations: int = 10, **tune_kwargs: Any) -> TuneOutcome:
    """Ultralytics' Tuner on ``model`` with ``tune_kwargs`` (as ``model.tune`` takes them); see the module."""
    tuner_class = _bridged_tuner_class()
    if "device" not in tune_kwargs and ctx.devices is not None:
        tune_kwargs["device"] = ",".join(map(str, ctx.devices)) if isinstance(ctx.devices, tuple) else ctx.devices
    if "optimizer" not in (tune_kwargs.get("space") or {}):
        tune_kwargs.setdefault("optimizer", "AdamW")  # as model.tune does: "auto" would ignore a searched lr0
    ctx.release_parent_run()  # the iteration runs are opened here, one at a time
    descriptor = read_descriptor()
    if descriptor is None:
        raise AttachError("h.tune(): no handoff descriptor in the environment; call it inside s.handoff(model)")
    runs = _IterationRuns(
        descriptor.project, descriptor.entity, descriptor.mode, descriptor.dir, _session_group(descriptor)
    )
    args = {**model.overrides, **tune_kwargs, "mode": "train"}
    with _children_without_wandb():
        if "model" in inspect.signature(tuner_class).parameters:  # 8.4: the model given when built
            tuner = tuner_class(args=args, model=model.model, _callbacks=model.callbacks)
            tuner._bridge_runs = runs
            tuner(iterations=iterations)
        else:
            tuner = tuner_class(args=args, _callbacks=model.callbacks)
            tuner._bridge_runs = runs
            tuner(model=model, iterations=iterations)
    outcome = _outcome(Path(tuner.tune_dir), runs.trials)
    _write_search(outcome)
    ctx.record_result(outcome)
    return outcome


def _bridged_tuner_class() -> type:
    """Ultralytics' Tuner, with each recorded iteration also written as a run (releases that record an
    iteration in one method; older ones are refused, naming the release)."""
    import ultralytics
    from ultralytics.engine.tuner import Tuner

    if not hasattr(Tuner, "_save_local_result"):
        raise ConfigError(
            "h.tune() needs an Ultralytics release whose Tuner records each iteration in _save_local_result (the "
            f"8.4 releases; 8.3 releases write a CSV row inline); ultralytics {ultralytics.__version__} has none. "
            "Upgrade Ultralytics, or call model.tune(...) outside a handoff (no W&B runs for its iterations)."
        )

    class BridgedTuner(Tuner):  # type: ignore[misc, valid-type]
        _bridge_runs: _IterationRuns

        def _save_local_result(self, result: dict[str, Any]) -> None:
            super()._save_local_result(result)
            self._bridge_runs.record(result)

    return BridgedTuner


def _session_group(descriptor: Any) -> str:
    """The session run's group, or its id when it has none (read through the public API: no writer session)."""
    import wandb

    try:
        api = wandb.Api(overrides={"base_url": descriptor.base_url} if descriptor.base_url else {})
        entity = descriptor.entity or api.default_entity
        group = api.run(f"{entity}/{descriptor.project}/{descriptor.run_id}").group
    except Exception as error:  # offline, or the API unreachable: the id still groups the iterations
        _log.debug("could not read the session run's group (%s); grouping by its id", error)
        group = None
    return str(group or descriptor.run_id)


@contextmanager
def _children_without_wandb() -> Iterator[None]:
    """While the Tuner runs, its ``yolo train`` subprocesses see no W&B run to resume and a disabled W&B."""
    before = EnvSnapshot.capture(_CHILD_VARIABLES)
    try:
        for name in _CHILD_VARIABLES:
            os.environ.pop(name, None)
        os.environ["WANDB_MODE"] = "disabled"
        yield
    finally:
        before.restore()


def _log_iteration(run: Any, save_dir: Path) -> None:
    """The epochs of ``results.csv`` as history rows, then the plot images as panels under their file stem."""
    import wandb

    results = save_dir / "results.csv"
    if results.is_file():
        with open(results, encoding="utf-8") as file:
            for row in csv.DictReader(file):
                values = {key.strip(): _number(value) for key, value in row.items() if key and value is not None}
                if "epoch" in values:
                    values["epoch"] = int(values["epoch"])
                run.log(values)
    images = {p.stem: wandb.Image(str(p)) for p in sorted(save_dir.glob("*.png")) + sorted(save_dir.glob("*.jpg"))}
    if images:
        run.log(images)


def _outcome(tune_dir: Path, trials: list[TrialRecord]) -> TuneOutcome:
    scored = [t for t in trials if not t.failed] or trials
    best = max(scored, key=lambda t: t.fitness) if scored else None
    return TuneOutcome(tune_dir, tuple(trials), best, _read_yaml(tune_dir / "best_hyperparameters.yaml"))


def _write_search(outcome: TuneOutcome) -> None:
    """The session's run is the search: the table of iterations, the best, and Ultralytics' best yaml."""
    import wandb

    with attached() as run:
        if run is None:
            return
        table = wandb.Table(columns=["iteration", "fitness", "hyperparameters", "trial_run_id", "state"])
        for t in outcome.trials:
            state = "failed" if t.failed else "finished"
            table.add_data(t.iteration, t.fitness, json.dumps(t.hyperparameters, sort_keys=True), t.run_id, state)
        run.log({"tune/iterations": table})
        if outcome.best is not None:
            run.summary.update(
                {
                    "tune/best_fitness": outcome.best.fitness,
                    "tune/best_iteration": outcome.best.iteration,
                    "tune/best_hyperparameters": outcome.best_hyperparameters or outcome.best.hyperparameters,
                }
            )
        best_yaml = outcome.tune_dir / "best_hyperparameters.yaml"
        if best_yaml.is_file():
            artifact = wandb.Artifact(f"best-hyperparameters-{run.id}", type="hyperparameters")
            artifact.add_file(str(best_yaml))
            run.log_artifact(artifact)


def _read_yaml(path: Path) -> dict[str, Any] | None:
    import yaml

    if not path.is_file():
        return None
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return dict(loaded) if isinstance(loaded, dict) else None


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text.strip()
