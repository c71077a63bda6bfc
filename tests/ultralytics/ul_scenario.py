"""The end-to-end scenario the Ultralytics tests check: PRE -> Ultralytics training -> POST in one session.

Run in the pytest process (``run_scenario``) or as a script in a clean subprocess (``python ul_scenario.py
'<json options>'``): Ultralytics disables its own W&B callback whenever pytest is imported or
``PYTEST_CURRENT_TEST`` is set, so the native-callback case must run outside pytest. The script prints one
JSON line ``RESULT {...}``.

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
) -> dict[str, Any]:
    """PRE: config, summary and a dataset artifact; training (2 epochs); POST: a metric and an artifact."""
    import ul_rig
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from wandb_ddp_bridge import wandb_session

    SETTINGS.update({"wandb": native, "sync": False})
    data = ul_rig.make_dataset(workdir / "dataset")
    # BRIDGE_TEST_DEVICE=0 runs the same scenario on the first GPU (the CUDA check of docs/compatibility.md)
    extra: dict[str, Any] = {"device": os.environ.get("BRIDGE_TEST_DEVICE", "cpu"), "plots": plots}
    if ddp:
        extra["trainer"] = ul_rig.CPUDDPDetectionTrainer
        # Releases before 8.4.140 import the trainer in the worker by module name.
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p
        )
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
        session.save_config({"model": "yolov8n.yaml", "epochs": kwargs["epochs"], "imgsz": kwargs["imgsz"]})
        session.log({"pre/images": 8})
        session.save_artifacts([data], name="dataset", type="dataset")
        pre_id = session.id
        model = YOLO("yolov8n.yaml")
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


def main() -> None:
    # A hang must not be silent: dump every thread's stack and exit well before the test's timeout.
    faulthandler.dump_traceback_later(200, exit=True)
    options = json.loads(sys.argv[1])
    workdir = Path(options.pop("workdir"))
    sys.path.insert(0, str(HERE))
    result = run_scenario(workdir, **options)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
