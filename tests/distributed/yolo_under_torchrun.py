"""A whole training script launched by torchrun: every rank runs ``wandb_session`` and real Ultralytics training.

    python -m torch.distributed.run --nproc_per_node 2 yolo_under_torchrun.py

Under torchrun Ultralytics trains in-process on every rank (it spawns workers only when ``LOCAL_RANK`` is unset).
``device="cpu"`` makes its own ``world_size`` 0, so it neither wraps the model in DDP nor creates the process
group, yet its samplers shard the data by ``torch.distributed`` and its validator gathers the statistics of every
rank into rank 0 (``gather_object``): the script must initialise the gloo group itself, and every rank must run
the same collectives. Two ways to run (``$BRIDGE_UL_MODE``):

* ``cooperate`` (default): what ``device="0,1"`` gives under torchrun on GPUs. The trainer's ``world_size`` is
  the job's, the model is wrapped in DDP (CPU: no ``device_ids``) and the gradients are averaged over the ranks;
  the script's process group is reused (Ultralytics would create its own with NCCL otherwise);
* ``independent``: Ultralytics' own CPU behaviour, untouched: each rank trains its data shard on its own (the
  loss is scaled by that ``world_size`` of 0, so nothing is learnt), validation still gathers across ranks.

Either way, the final validation of ``best.pt`` on a DDP rank builds its model on ``cuda:<current device>``;
the script keeps it on CPU on every rank (``ul_rig``'s CPU patches; both ranks must still run it).

Each rank writes ``rank<N>.json`` into ``$BRIDGE_PROBE_DIR``: whether it imported wandb, the session's run id and
the ``wandb.run`` it saw at every epoch, so the test can prove that only global rank 0 touched W&B.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

# A hang must not be silent: dump every thread's stack and exit well before the test's own timeout.
faulthandler.dump_traceback_later(int(os.environ.get("BRIDGE_HANG_SECONDS", "150")), exit=True)

RANK = int(os.environ["RANK"])
# One settings file per rank: two ranks creating the same settings.json at import time would race.
os.environ["YOLO_CONFIG_DIR"] = str(Path(os.environ["BRIDGE_WORKDIR"]) / f"yolo-config-rank{RANK}")

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import wandb_ddp_bridge as bridge  # noqa: E402


def _seen_run_id() -> str | None:
    """The open wandb run's id, without importing wandb where nobody else did."""
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None) if wandb is not None else None
    return getattr(run, "id", None)


def _trainer_class(mode: str) -> type | None:
    import ul_rig
    from ultralytics.models.yolo.detect import DetectionTrainer

    ul_rig._patch_worker_for_cpu()  # final validation on CPU; DDP over a CPU module (cooperate)
    if mode == "independent":
        return None  # the model's own trainer, exactly as Ultralytics picks it

    class TorchrunCPUTrainer(DetectionTrainer):  # type: ignore[misc]
        """``device="cpu"`` trained as ``device="0,1"`` would be under torchrun: one DDP job over all ranks."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)  # ddp=False (already a worker); integrations on rank 0 only
            self.world_size = dist.get_world_size()

        def _setup_ddp(self) -> None:
            self.device = torch.device("cpu")  # the process group is the script's (gloo), already initialised

    return TorchrunCPUTrainer


def main() -> None:
    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(seconds=120))
    from ultralytics import YOLO

    mode = os.environ.get("BRIDGE_UL_MODE", "cooperate")
    workdir = Path(os.environ["BRIDGE_WORKDIR"])
    trainer = _trainer_class(mode)
    epochs_seen: list[list[Any]] = []

    def probe_epoch(t: Any) -> None:  # a user callback: runs on every rank
        epochs_seen.append([int(t.epoch) + 1, _seen_run_id()])

    extra: dict[str, Any] = {"trainer": trainer} if trainer is not None else {}
    with bridge.wandb_session(
        project=os.environ["BRIDGE_PROJECT"], dir=str(workdir), fast_path=os.environ["BRIDGE_FAST_PATH"]
    ) as s:
        s.save_config({"model": "yolov8n.yaml", "world_size": dist.get_world_size(), "mode": mode})
        s.log({"pre/images": 8})
        model = YOLO("yolov8n.yaml")
        model.add_callback("on_train_epoch_end", probe_epoch)
        with s.handoff(model) as h:
            holds_run = h.holds_run
            h.train(
                data=os.environ["BRIDGE_DATA"],
                epochs=2,
                imgsz=64,
                batch=4,
                workers=0,
                plots=False,
                amp=False,
                device="cpu",
                project=str(workdir / "runs"),
                name="train",
                exist_ok=True,
                verbose=False,
                **extra,
            )
        best = h.result.best if h.result is not None else None
        s.log({"post/score": 1.0, "post/best_exists": bool(best and best.exists())})
        session_run_id = s.id
    dist.barrier()
    dist.destroy_process_group()
    probe = Path(os.environ["BRIDGE_PROBE_DIR"]) / f"rank{RANK}.json"
    probe.write_text(
        json.dumps(
            {
                "rank": RANK,
                "local_rank": int(os.environ["LOCAL_RANK"]),
                "wandb_imported": "wandb" in sys.modules,
                "session_run_id": session_run_id,
                "holds_run": holds_run,
                "epochs": epochs_seen,
            }
        )
    )


if __name__ == "__main__":
    main()
