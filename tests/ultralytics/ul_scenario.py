"""The end-to-end scenario the Ultralytics tests check: PRE -> Ultralytics training -> POST in one session.

Run in the pytest process (``run_scenario``) or as a script in a clean subprocess
(``python ul_scenario.py '<json options>'``; with ``"tasks": [...]`` one scenario per task): Ultralytics
disables its own W&B callback whenever pytest is imported or ``PYTEST_CURRENT_TEST`` is set, so the
native-callback case must run outside pytest. The script prints one JSON line ``RESULT {...}``.

The caller sets ``YOLO_CONFIG_DIR`` and ``YOLO_OFFLINE`` before Ultralytics is imported.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PRE_ROWS = 3


def run_scenario(
    workdir: Path,
    *,
    project: str,
    entity: str | None = None,
    base_url: str | None = None,
    mode: str = "online",
    ddp: bool = False,
    native: bool = False,
    plain_train: bool = False,
    fast_path: str = "auto",
    plots: bool = False,
    task: str = "detect",
    images: int = 8,
    fail_wandb: tuple[str, ...] | list[str] = (),
    **train_extra: Any,
) -> dict[str, Any]:
    """PRE: config, 3 history rows and a dataset artifact; training (2 epochs of ``task``); POST: a metric
    and an artifact. ``fail_wandb`` names events at which a W&B logging callback raises (injected into the
    native callback when ``native``, else into the bridge's logger)."""
    import ul_rig
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from wandb_ddp_bridge import wandb_session

    SETTINGS.update({"wandb": native, "sync": False})
    if fail_wandb:
        inject_wandb_failures(tuple(fail_wandb), native=native)
    data = ul_rig.make_dataset(workdir / "dataset", task=task, images=images)
    # BRIDGE_TEST_DEVICE=0 runs the same scenario on the first GPU (the CUDA check of docs/compatibility.md)
    extra: dict[str, Any] = {"device": os.environ.get("BRIDGE_TEST_DEVICE", "cpu"), "plots": plots}
    extra.update(train_extra)
    if ddp:
        extra["trainer"] = ul_rig.CPU_DDP_TRAINERS[task]
        # Releases before 8.4.140 import the trainer in the worker by module name.
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    kwargs = ul_rig.train_kwargs(data, workdir / "runs", **extra)
    report = workdir / "report.txt"
    started = time.perf_counter()
    with wandb_session(
        project=project,
        entity=entity,
        base_url=base_url,
        mode=mode,
        devices=None,
        dir=str(workdir),
        fast_path=fast_path,
    ) as session:
        session.save_config({"model": ul_rig.MODELS[task], "epochs": kwargs["epochs"], "imgsz": kwargs["imgsz"]})
        for shard in range(PRE_ROWS):  # PRE history rows, like run.log(): training's rows must follow them
            session.log({"pre/images": images, "pre/shard": shard})
        session.save_artifacts([data], name="dataset", type="dataset")
        pre_id = session.id
        model = YOLO(ul_rig.MODELS[task])
        train_started = time.perf_counter()
        with session.handoff(model) as handoff:
            if plain_train:
                model.train(**kwargs)
            else:
                handoff.train(**kwargs)
        train_seconds = time.perf_counter() - train_started
        outcome = handoff.result
        report.write_text("post-training report\n")
        session.log({"post/score": 1.0})
        session.save_artifacts([report], name="report", type="report")
        post_id = session.id
    return {
        "pre_id": pre_id,
        "post_id": post_id,
        "best": str(outcome.best) if outcome is not None and outcome.best else None,
        "best_exists": bool(outcome is not None and outcome.best and outcome.best.exists()),
        "train_seconds": round(train_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
    }


def inject_wandb_failures(events: tuple[str, ...], *, native: bool) -> None:
    """Make a W&B logging callback raise at ``events``, in this process: at ``on_fit_epoch_end`` after doing
    its work, at ``on_train_end`` before (so whatever it would have logged there is lost)."""
    if native:
        from ultralytics.utils.callbacks import wb

        for event in events:
            wb.callbacks[event] = _failing(wb.callbacks[event], event, module=wb.__name__)
        return
    from wandb_ddp_bridge.integrations.ultralytics import runlog

    methods = {"on_fit_epoch_end": "fit_epoch_end", "on_train_end": "train_end"}
    for event in events:
        setattr(runlog.EpochLogger, methods[event], _failing(getattr(runlog.EpochLogger, methods[event]), event))


def _failing(original: Any, event: str, *, module: str | None = None) -> Any:
    def failing(*args: Any) -> None:
        if event != "on_train_end":
            original(*args)
        raise RuntimeError(f"injected W&B logging failure at {event}")

    failing.__module__ = module or failing.__module__  # a native callback is known by its module
    return failing


def main() -> None:
    options = json.loads(sys.argv[1])
    workdir = Path(options.pop("workdir"))
    tasks = options.pop("tasks", None)
    # A hang must not be silent: dump every thread's stack and exit well before the test's timeout.
    faulthandler.dump_traceback_later(options.pop("hang_after", 200), exit=True)
    sys.path.insert(0, str(HERE))
    if tasks is None:
        result = run_scenario(workdir, **options)
    else:  # one scenario per task, one after the other in this process, each in its own project
        project = options.pop("project")
        result = {
            task: run_scenario(workdir / task, project=f"{project}-{task}", task=task, **options) for task in tasks
        }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
