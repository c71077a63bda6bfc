"""Multi-GPU (DDP) YOLO training in ONE W&B run.

    python examples/multi_gpu_yolo.py --data coco8.yaml --devices 0,1

Ultralytics launches ``torch.distributed.run`` workers. The bridge closes the run before they start (flushed),
global rank 0 re-attaches with ``resume="must"`` (ranks 1..N never touch W&B), and this process resumes the
same run afterwards. ``--trainer module:Class`` trains with your own trainer subclass (it must be importable
from the workers, i.e. on PYTHONPATH); ``--smoke`` runs on CPU with generated data.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from ultralytics import YOLO

from wandb_ddp_bridge import wandb_session


def load_trainer(spec: str | None) -> Any:
    if not spec:
        return None
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="coco8.yaml")
    parser.add_argument("--model", default="yolov8n.pt")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--devices", default="0,1", help="GPU ids, e.g. 0,1,2,3")
    parser.add_argument("--trainer", default=None, help="module:Class of your own trainer")
    parser.add_argument("--project", default="yolo-multi-gpu")
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run on generated data")
    args = parser.parse_args(argv)

    train_kwargs: dict[str, Any] = {"data": args.data, "epochs": args.epochs, "imgsz": args.imgsz}
    if args.smoke:
        from _smoke import smoke_train_kwargs

        train_kwargs, args.model, args.devices = smoke_train_kwargs(), "yolov8n.yaml", "cpu"
    trainer = load_trainer(args.trainer)
    if trainer is not None:
        train_kwargs["trainer"] = trainer

    model = YOLO(args.model)
    with wandb_session(project=args.project, devices=args.devices, group="ddp-example") as s:
        s.save_config(
            {
                "model": args.model,
                "devices": args.devices,
                "train": {k: v for k, v in train_kwargs.items() if k != "trainer"},
            }
        )
        s.save_metadata({"example": "multi_gpu_yolo"})
        with s.handoff(model) as h:
            h.train(**train_kwargs)  # device defaults to the session's devices
        s.log_model(h.result.best, name="best")
        print(f"one run: {s.url or s.id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
