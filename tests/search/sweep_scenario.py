"""A W&B sweep whose trials are bridged sessions, run as a script by ``test_sweeps.py``:
``python sweep_scenario.py '<json options>'``. Prints ``RESULT {...}`` (the sweep id, what each trial saw).

Options: ``project``/``entity`` of the sweep; ``session_project`` (the trials' sessions, default the same);
``parameters`` and ``method``; ``count``; ``trial``: ``"plain"`` (no training), ``"decorated"``
(``@tracked_training`` as the agent's function), ``"yolo"`` (a real Ultralytics training, ``ddp`` through the
rig's 2 CPU ranks); ``program``: run the CLI agent (``wandb agent``) on ``trial_program.py`` instead.
"""

from __future__ import annotations

import faulthandler
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEEN: list[dict[str, Any]] = []


def plain_trial(options: dict[str, Any]) -> None:
    import wandb

    from wandb_ddp_bridge import wandb_session

    project = options.get("session_project", options["project"])
    try:
        with wandb_session(project=project, entity=options["entity"], run_id=options.get("run_id")) as s:
            assert s.run is not None
            SEEN.append({"id": s.id, "config": dict(s.run.config), "wandb_config": dict(wandb.config)})
            s.log({"pre/lr": s.run.config["lr"]})
            with s.handoff():
                pass
            s.log({"post/score": 1.0})
    except Exception as error:
        SEEN.append({"error": f"{type(error).__name__}: {error}"})
        raise


def decorated_trial(options: dict[str, Any]) -> None:
    from wandb_ddp_bridge import attach, detach, tracked_training

    @tracked_training(project=options["project"], entity=options["entity"])
    def train() -> None:
        run = attach()  # what a training process does: re-join the handed-off run
        assert run is not None
        SEEN.append({"id": run.id, "config": dict(run.config)})
        run.log({"train/loss": float(run.config["lr"])})
        detach()

    train()


def yolo_trial(options: dict[str, Any]) -> None:
    import ul_rig
    import wandb
    from ultralytics import YOLO

    from wandb_ddp_bridge import wandb_session

    workdir = Path(options["workdir"])
    with wandb_session(project=options["project"], entity=options["entity"], dir=str(workdir)) as s:
        lr0 = wandb.config["lr0"]
        SEEN.append({"id": s.id, "config": dict(s.run.config) if s.run is not None else {}})
        s.log({"pre/lr0": lr0})
        # optimizer="auto" picks its own learning rate and ignores lr0: a searched lr0 needs a named optimizer
        kwargs = ul_rig.train_kwargs(Path(options["data"]), workdir / "runs", name=f"trial-{s.id}", optimizer="SGD")
        if options.get("ddp"):
            kwargs["trainer"] = ul_rig.CPUDDPDetectionTrainer
        model = YOLO("yolov8n.yaml")
        with s.handoff(model) as h:
            h.train(**kwargs, lr0=lr0)
        s.log({"post/lr0": lr0})


TRIALS = {"plain": plain_trial, "decorated": decorated_trial, "yolo": yolo_trial}


def main() -> None:
    faulthandler.dump_traceback_later(380, exit=True)
    options = json.loads(sys.argv[1])
    workdir = Path(options["workdir"])
    import wandb
    from ultralytics.utils import SETTINGS
    from wandb.agents import pyagent

    SETTINGS.update({"wandb": False, "sync": False})
    if options.get("trial") == "yolo" or options.get("program"):
        import ul_rig

        options["data"] = str(ul_rig.make_dataset(workdir / "dataset"))
    pyagent.Agent.HEARTBEAT_SLEEP_SECONDS = 0.2  # the default 5 s between heartbeats only slows the test
    config: dict[str, Any] = {"method": options.get("method", "grid"), "parameters": options["parameters"]}
    if options.get("program"):
        config["program"] = str(HERE / "trial_program.py")
    sweep_id = wandb.sweep(config, entity=options["entity"], project=options["project"])
    if options.get("program"):
        command = [
            "wandb",
            "agent",
            "--count",
            str(options["count"]),
            f"{options['entity']}/{options['project']}/{sweep_id}",
        ]
        env = {**os.environ, "TRIAL_OPTIONS": json.dumps(options)}
        agent = subprocess.run(command, env=env, timeout=360, stdout=subprocess.PIPE, text=True)
        print(agent.stdout, flush=True)
        wins = [line for line in agent.stdout.splitlines() if "it wins over run_id='auto'" in line]
        print("RESULT " + json.dumps({"sweep": sweep_id, "agent_exit": agent.returncode, "wins": wins}), flush=True)
        return
    trial = TRIALS[options["trial"]]
    wandb.agent(sweep_id, function=lambda: trial(options), count=options.get("count"))
    print("RESULT " + json.dumps({"sweep": sweep_id, "trials": SEEN}), flush=True)


if __name__ == "__main__":
    main()
