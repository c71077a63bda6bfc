"""The ``program`` of a sweep run by the CLI agent (``wandb agent SWEEP``): one bridged Ultralytics training.

The agent starts it with the trial's run in its environment (``WANDB_SWEEP_ID``, ``WANDB_RUN_ID``); the session
asks for ``run_id="auto"`` as a Slurm job would, and the sweep's assignment wins. With ``preempt`` in
``TRIAL_OPTIONS``, the trial's first attempt is preempted (SIGTERM, as a scheduler sends it) after epoch 1;
the sweep requeues it, and the next attempt continues the run from ``last.pt``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def _preempt_after_first_epoch(trainer: Any) -> None:
    if trainer.epoch == 0:
        os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    import logging

    import ul_rig
    import wandb
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from wandb_ddp_bridge import wandb_session

    SETTINGS.update({"wandb": False, "sync": False})
    logging.getLogger("wandb_ddp_bridge").setLevel(logging.DEBUG)  # the assignment's debug line, for the test
    logging.getLogger("wandb_ddp_bridge").addHandler(logging.StreamHandler(sys.stdout))
    options = json.loads(os.environ["TRIAL_OPTIONS"])
    workdir = Path(options["workdir"])
    with wandb_session(project=options["project"], entity=options["entity"], run_id="auto", dir=str(workdir)) as s:
        assert s.id is not None
        lr0 = wandb.config["lr0"]
        s.log({"pre/lr0": lr0})
        save_dir = workdir / "runs" / f"trial-{s.id}"
        last = save_dir / "weights" / "last.pt"
        if last.is_file():  # the requeued attempt: continue the checkpoint
            model, kwargs = YOLO(str(last)), {"resume": True}
        else:
            kwargs = ul_rig.train_kwargs(
                Path(options["data"]), save_dir.parent, name=save_dir.name, optimizer="SGD", lr0=lr0
            )
            model = YOLO("yolov8n.yaml")
            if options.get("preempt"):
                model.add_callback("on_fit_epoch_end", _preempt_after_first_epoch)
        with s.handoff(model) as h:
            h.train(**kwargs)
        s.log({"post/lr0": lr0})


if __name__ == "__main__":
    main()
