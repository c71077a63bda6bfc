"""A plain PyTorch DDP loop (gloo, CPU) for the torchrun tests. Two ways to use the bridge:

* ``session`` mode: every rank runs ``wandb_session`` itself (the script is launched by torchrun);
* ``attach`` mode: the script is the child of an orchestrator's handoff and only calls ``attach()``.

Each rank writes ``rank<N>.json`` into $BRIDGE_PROBE_DIR saying whether it imported wandb and which run id it
saw, so tests can prove that only global rank 0 touched W&B.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import wandb_ddp_bridge as bridge

EPOCHS = int(os.environ.get("BRIDGE_EPOCHS", "3"))


def train_epochs(run: object | None) -> None:
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data, target = torch.randn(16, 4), torch.randn(16, 1)
    for epoch in range(EPOCHS):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if run is not None:
            run.log({"epoch": epoch, "train/loss": float(loss)})  # type: ignore[attr-defined]


def main(mode: str) -> None:
    dist.init_process_group("gloo")
    seen: str | None = None
    if mode == "session":
        with bridge.wandb_session(project=os.environ["BRIDGE_PROJECT"]) as s:
            s.save_config({"lr": 0.1, "rank_count": dist.get_world_size()})
            with s.handoff():
                run = bridge.attach()
                seen = run.id if run is not None else None
                train_epochs(run)
                bridge.detach()
            s.log({"final/score": 1.0})
    else:
        with bridge.attached() as run:
            seen = run.id if run is not None else None
            train_epochs(run)
    dist.barrier()
    dist.destroy_process_group()
    probe = Path(os.environ["BRIDGE_PROBE_DIR"]) / f"rank{dist_rank()}.json"
    probe.write_text(
        json.dumps(
            {
                "rank": dist_rank(),
                "local_rank": int(os.environ["LOCAL_RANK"]),
                "wandb_imported": "wandb" in sys.modules,
                "run_id": seen,
            }
        )
    )


def dist_rank() -> int:
    return int(os.environ["RANK"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "session")
