"""A Hydra/OmegaConf application config with a ``wandb`` section drives the session.

    python examples/hydra_config.py            # config below; with Hydra, decorate main with @hydra.main
    python examples/hydra_config.py --smoke

The session reads ``cfg.wandb`` (project, entity, api_key, devices...). ``save_config`` stores the resolved
config with every secret redacted (``cfg.wandb.api_key`` is interpolated from the environment here).
``@tracked_training`` turns the train function into the training phase of the open session.
"""

from __future__ import annotations

import argparse
from typing import Any

from omegaconf import OmegaConf
from ultralytics import YOLO

from wandb_ddp_bridge import Handoff, tracked_training, wandb_session

CONFIG = """
wandb:
  project: yolo-hydra
  entity: null
  api_key: ${oc.env:WANDB_API_KEY,null}
  group: hydra-example
  tags: [hydra, example]
  devices: "0"
model: yolov8n.pt
train:
  data: coco8.yaml
  epochs: 50
  imgsz: 640
"""


@tracked_training
def train(model: Any, handoff: Handoff, **train_kwargs: Any) -> Any:
    """Runs inside the session's handoff: the run is handed to training for this call."""
    handoff.train(**train_kwargs)
    return handoff.result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run on generated data")
    args = parser.parse_args(argv)

    cfg = OmegaConf.create(CONFIG)
    if args.smoke:
        from _smoke import smoke_train_kwargs

        cfg.train = smoke_train_kwargs()
        cfg.model = "yolov8n.yaml"
        cfg.wandb.devices = "cpu"

    model = YOLO(cfg.model)
    with wandb_session(cfg) as s:
        s.save_config(cfg)  # resolved, api_key redacted
        s.save_metadata({"example": "hydra_config"})
        result = train(model, **OmegaConf.to_container(cfg.train, resolve=True))  # type: ignore[arg-type]
        s.log_model(result.best, name="best")
        print(f"one run: {s.url or s.id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
