"""Your own torch DDP training loop, launched with torchrun, logging into the session's ONE run.

    python examples/torchrun_custom_loop.py --nproc 2            # parent: session + torchrun + post phase
    python examples/torchrun_custom_loop.py --nproc 2 --smoke    # CPU/gloo, a few seconds

The parent opens the session and hands the run off (no model: the run is closed, flushed, and described in
the environment). torchrun's workers inherit that environment; in each worker ``attach()`` re-opens the run
on global rank 0 (``resume="must"``) and returns ``None`` on every other rank; ``detach()`` closes it. After
torchrun exits, the parent resumes the same run for the post-training phase.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def worker(epochs: int, checkpoint: Path) -> None:
    """One torchrun process: plain DDP on a tiny regression task."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from wandb_ddp_bridge import attach, detach, get_rank

    use_cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo")
    device = torch.device(f"cuda:{int(os.environ['LOCAL_RANK'])}" if use_cuda else "cpu")
    torch.manual_seed(get_rank())
    model = DistributedDataParallel(torch.nn.Linear(8, 1).to(device), device_ids=[device] if use_cuda else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(64, 8, device=device), torch.randn(64, 1, device=device)

    run = attach()  # the handed-off run on global rank 0, None elsewhere
    if run is not None:
        run.define_metric("train/*", step_metric="epoch")
    try:
        for epoch in range(1, epochs + 1):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            if run is not None:
                run.log({"epoch": epoch, "train/loss": loss.item()})
        if get_rank() == 0:
            torch.save(model.module.state_dict(), checkpoint)
    except BaseException:
        detach(exit_code=1)
        raise
    detach()
    del model, optimizer  # DDP's reducer and its threads go before the group they use (else a rank may abort)
    # every rank leaves the group together: a rank that tears gloo down while another still finishes the run
    # can abort ("terminate called without an active exception", seen under load)
    dist.barrier()
    dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--project", default="torchrun-custom-loop")
    parser.add_argument("--smoke", action="store_true", help="CPU/gloo, 3 epochs")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs = 3
    if args.worker:
        worker(args.epochs, Path(args.checkpoint))
        return 0

    from wandb_ddp_bridge import wandb_session

    checkpoint = Path(tempfile.mkdtemp(prefix="custom-loop-")) / "model.pt"
    with wandb_session(project=args.project, job_type="training") as s:
        s.save_config({"nproc": args.nproc, "epochs": args.epochs, "model": "Linear(8, 1)"})
        with s.handoff():  # no model: training happens in other processes, which attach()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "torch.distributed.run",
                    "--standalone",
                    f"--nproc_per_node={args.nproc}",
                    __file__,
                    "--worker",
                    f"--epochs={args.epochs}",
                    f"--checkpoint={checkpoint}",
                ],
                check=True,
            )
        s.log_model(checkpoint, name="custom-loop-model")
        print(f"one run: {s.url or s.id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
