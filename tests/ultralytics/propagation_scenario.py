"""One session whose settings reach training only through the bridge: run as a script by
``test_devices_and_propagation.py`` (``python propagation_scenario.py '<json options>'``).

The W&B server's URL, API key, mode and an explicit entity are given to ``wandb_session`` (the caller's
environment has none of them), ``devices="cpu"`` comes from the session config (``h.train`` is given no
``device``), and tags/notes/job type are set once at the start. With ``ddp`` the training runs through
Ultralytics' own DDP launcher on the rig's 2 CPU ranks. Prints ``RESULT {...}``.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run(workdir: Path, *, project: str, entity: str, base_url: str, api_key: str, ddp: bool) -> dict[str, Any]:
    import ul_rig
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from wandb_ddp_bridge import wandb_session

    SETTINGS.update({"wandb": False, "sync": False})
    kwargs = ul_rig.train_kwargs(ul_rig.make_dataset(workdir / "dataset"), workdir / "runs")
    assert "device" not in kwargs
    if ddp:
        kwargs["trainer"] = ul_rig.CPUDDPDetectionTrainer
        # releases before 8.4.140 import the trainer in the worker by module name
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    with wandb_session(
        project=project,
        entity=entity,
        base_url=base_url,
        api_key=api_key,
        mode="online",
        devices="cpu",
        dir=str(workdir),
        tags=["propagation", "cpu"],
        notes="settings through the handoff",
        job_type="train-detector",
    ) as session:
        session.summary["pre/images"] = 8
        model = YOLO("yolov8n.yaml")
        with session.handoff(model) as handoff:
            handoff.train(**kwargs)
        trainer = getattr(model, "trainer", None)
        device = getattr(getattr(trainer, "args", None), "device", None)
        session.summary["post/score"] = 1.0
        session.summary.update({"post/f1": 0.5})
        return {"id": session.id, "device": device}


def main() -> None:
    faulthandler.dump_traceback_later(200, exit=True)
    options = json.loads(sys.argv[1])
    workdir = Path(options.pop("workdir"))
    sys.path.insert(0, str(HERE))
    print("RESULT " + json.dumps(run(workdir, **options)), flush=True)


if __name__ == "__main__":
    main()
