"""Ultralytics' tuner inside a session, run as a script by ``test_tuning.py``: ``python tune_scenario.py
'<json options>'``. Prints ``RESULT {...}`` (the session's id, ``h.result``'s iterations and best).

Options: ``project``; ``plain``: call ``model.tune(...)`` in the handoff instead of ``h.tune(...)``;
``group``: the session's group; ``break_iterations``: every iteration's training fails (its dataset is gone).
"""

from __future__ import annotations

import faulthandler
import json
import sys
from pathlib import Path


def main() -> None:
    faulthandler.dump_traceback_later(380, exit=True)
    options = json.loads(sys.argv[1])
    workdir = Path(options["workdir"])
    import ul_rig
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from wandb_ddp_bridge import wandb_session

    SETTINGS.update({"wandb": False, "sync": False})
    data = ul_rig.make_dataset(workdir / "dataset")
    tune_args = ul_rig.train_kwargs(data, workdir / "runs", epochs=1, name="tune")
    tune_args.update(iterations=2, space={"lr0": (1e-4, 1e-2)}, device="cpu")
    if options.get("break_iterations"):
        tune_args["data"] = str(workdir / "no-such-dataset.yaml")
    with wandb_session(project=options["project"], group=options.get("group"), dir=str(workdir)) as s:
        s.log({"pre/ready": 1})
        model = YOLO("yolov8n.yaml")
        with s.handoff(model) as h:
            model.tune(**tune_args) if options.get("plain") else h.tune(**tune_args)
        outcome = h.result
        s.log({"post/best_fitness": outcome.best.fitness if outcome.best else None})
        print(
            "RESULT "
            + json.dumps(
                {
                    "id": s.id,
                    "trials": [[t.iteration, t.run_id, t.fitness, t.failed] for t in outcome.trials],
                    "best": outcome.best.iteration if outcome.best else None,
                    "best_hyperparameters": outcome.best_hyperparameters,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
