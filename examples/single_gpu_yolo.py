"""Single-GPU YOLO training in ONE W&B run: pre-training logs, training metrics, post-training artifacts.

    python examples/single_gpu_yolo.py --data coco8.yaml --device 0
    python examples/single_gpu_yolo.py --smoke          # CPU, generated data, seconds

With one device Ultralytics trains in this process: the bridge keeps the run open (in-process fast path)
and its callbacks log every epoch into it.
"""

from __future__ import annotations

import argparse

from ultralytics import YOLO

from wandb_ddp_bridge import wandb_session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="coco8.yaml")
    parser.add_argument("--model", default="yolov8n.pt")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--device", default="0", help="one GPU id, or cpu")
    parser.add_argument("--project", default="yolo-single-gpu")
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run on generated data")
    args = parser.parse_args(argv)

    train_kwargs = {"data": args.data, "epochs": args.epochs, "imgsz": args.imgsz}
    if args.smoke:
        from _smoke import smoke_train_kwargs

        train_kwargs, args.model, args.device = smoke_train_kwargs(), "yolov8n.yaml", "cpu"

    model = YOLO(args.model)
    with wandb_session(project=args.project, devices=args.device, job_type="training") as s:
        s.save_config({"model": args.model, "train": train_kwargs})  # phase 1: pre-training
        s.save_metadata({"example": "single_gpu_yolo"})
        with s.handoff(model) as h:  # phase 2: training
            h.train(**train_kwargs)
        s.log_model(h.result.best, name="best")  # phase 3: post-training
        s.log({"final/best_fitness": float(getattr(model.trainer, "best_fitness", 0) or 0)})
        print(f"one run: {s.url or s.id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
