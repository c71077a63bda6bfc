"""Migrating a hand-written ``WandbManager``: change the import, keep the method names.

    python examples/wandb_manager_adapter.py --smoke

``wandb_ddp_bridge.compat.WandbManager`` has the seed pattern's methods (initialize, save_config,
save_training_job_metadata, prepare_for_training, resume_after_training, log_s3_artifact, finish), built on
the phase-checked session: a call in the wrong phase raises PhaseError saying which method to call instead.
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import Any

from ultralytics import YOLO

from wandb_ddp_bridge.compat import WandbManager


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run on generated data")
    args = parser.parse_args(argv)

    train_kwargs: dict[str, Any] = {"data": "coco8.yaml", "epochs": 50, "imgsz": 640, "device": "0"}
    weights = "yolov8n.pt"
    if args.smoke:
        from _smoke import smoke_train_kwargs

        train_kwargs, weights = {**smoke_train_kwargs(), "device": "cpu"}, "yolov8n.yaml"
    cfg = SimpleNamespace(wandb=SimpleNamespace(project="yolo-manager", entity=None, api_key=None))

    manager = WandbManager(cfg, job_name="yolo-job", experiment_group_name="manager-example")
    run, url = manager.initialize()
    manager.save_config({"train": train_kwargs, "weights": weights})
    manager.save_training_job_metadata({"example": "wandb_manager_adapter"})

    model = YOLO(weights)
    manager.prepare_for_training(model)  # was: finish the run + export WANDB_* by hand
    model.train(**train_kwargs)  # the seed's plain call; the handoff bridges it
    manager.resume_after_training()  # same run id, resume="must"
    manager.log_model(model.trainer.best, name="best")
    manager.finish()
    print(f"one run: {url or (run.id if run else None)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
