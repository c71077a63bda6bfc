"""One session (PRE -> Ultralytics training -> POST) run as a script, so a test can crash, interrupt or kill it.

``python ddp_fault_scenario.py '<json options>'``: options ``workdir``, ``project``, ``base_url``, ``ddp``
(train through Ultralytics' DDP launcher with 2 CPU gloo ranks), ``epochs``, and for restarts ``run_id`` and
``resume`` (a ``last.pt`` to resume, or ``"run"``: the run's checkpoint artifact), ``checkpoints`` and
``checkpoint_keep``. The script prints ``TRAINING`` when the handoff is open, ``RAISED {...}`` (the exception's
type, its classes, its message, whether ``h.train`` raised it and whether every ``WANDB_*`` variable was back as
before) when the session ended with an exception, which it then re-raises unchanged (so the exit status is the
one the user would get), and ``RESULT {...}`` after a clean end.

The caller sets ``YOLO_CONFIG_DIR``, ``YOLO_OFFLINE`` and the W&B server variables; ``DDP_FAULT_EXIT`` (see
``ddp_fault_rig``) makes a worker die.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
from pathlib import Path
from typing import Any

#: A hung scenario dumps every thread's stack and exits after this many seconds: the test's own waits end there.
HANG_LIMIT = 150.0

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "ultralytics"))


def run(
    workdir: Path,
    *,
    project: str,
    base_url: str,
    ddp: bool,
    epochs: int,
    run_id: str | None = None,
    resume: str | None = None,
    checkpoints: str | None = None,
    checkpoint_keep: int = 2,
) -> dict[str, Any]:
    import ddp_fault_rig
    import ul_rig
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    from wandb_ddp_bridge import wandb_session

    SETTINGS.update({"wandb": False, "sync": False})
    data = ul_rig.make_dataset(workdir / "dataset")
    extra: dict[str, Any] = {"device": "cpu", "epochs": epochs}
    if ddp:
        extra["trainer"] = ddp_fault_rig.FaultyCPUDDPDetectionTrainer
    kwargs = ul_rig.train_kwargs(data, workdir / "runs", **extra)
    if resume:  # a later attempt: resume Ultralytics' last.pt (``run_id`` names the run to continue)
        kwargs = {"resume": True, "device": "cpu", **({"trainer": extra["trainer"]} if ddp else {})}
    if resume == "run":  # resume the run's checkpoint artifact: no local last.pt (``checkpoints`` set)
        kwargs["data"], resume = str(data), None
    session_kwargs = {"run_id": run_id, "checkpoints": checkpoints, "checkpoint_keep": checkpoint_keep}
    with wandb_session(project=project, base_url=base_url, devices=None, dir=str(workdir), **session_kwargs) as session:
        session.log({"pre/images": 8})
        model = YOLO(resume or "yolov8n.yaml")
        if not ddp:  # the DDP trainer notes them itself, in the worker
            model.add_callback("on_fit_epoch_end", ddp_fault_rig.record_epoch)
        with session.handoff(model) as handoff:
            print("TRAINING", flush=True)
            try:
                handoff.train(**kwargs)
            except BaseException as exc:
                exc.raised_by_train = True  # type: ignore[attr-defined]
                raise
        session.log({"post/score": 1.0})
        return {"id": session.id}


def _wandb_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("WANDB_")}


def main() -> None:
    # A hang must not be silent: dump every thread's stack and exit well before the test's timeout.
    faulthandler.dump_traceback_later(HANG_LIMIT, exit=True)
    options = json.loads(sys.argv[1])
    workdir = Path(options.pop("workdir"))
    env_before = _wandb_env()
    try:
        result = run(workdir, **options)
    except BaseException as exc:
        raised = {
            "type": type(exc).__name__,
            "classes": [cls.__name__ for cls in type(exc).__mro__],
            "message": str(exc),
            "by_train": getattr(exc, "raised_by_train", False),
            "env_restored": _wandb_env() == env_before,
        }
        print("RAISED " + json.dumps(raised), flush=True)
        raise
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
