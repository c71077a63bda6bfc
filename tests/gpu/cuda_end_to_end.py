"""The single-GPU CUDA end-to-end check: the three-phase flow on a real GPU, judged by the server's records.

    python tests/gpu/cuda_end_to_end.py --out DIR [--only in-process,handoff,torchrun]

Not a pytest module (CI machines have no GPU, and a skip that fires everywhere would prove nothing): a script
that ``tests/gpu/run_on_device.sh`` runs on a lent GPU machine, which has no network and no W&B account. It
starts the local W&B-protocol server in this process, then:

* ``in-process``: ``wandb_session(devices="0", fast_path="auto")``, Ultralytics trains ``yolov8n.yaml`` on
  ``cuda:0`` with AMP on (the GPU-only path: autocast, GradScaler) inside the still-open run;
* ``handoff``: the same with ``fast_path="never"``: the run is finished before training and re-attached on the
  GPU (what a multi-GPU job does, on one device);
* ``torchrun``: ``examples/torchrun_custom_loop.py --nproc 1``: a torchrun worker with an NCCL process group
  on ``cuda:0`` attaches to the handed-off run;
* ``checkpoints``: the in-process training with ``checkpoints="wandb"``: each epoch's CUDA-trained ``last.pt``
  becomes a version of the run's checkpoint artifact.

Each scenario must leave exactly one run in its project, pass ``verify``'s rules (one run, every epoch's row,
phases, artifacts, no secret in the config), and show the GPU was used (the trainer's device, CUDA memory).
The verdicts go to ``DIR/gpu_check.json``; the exit code is 0 only when every scenario passed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3
#: ``--cpu-dry-run`` (rehearse the script on a machine without a GPU): train on the CPU, judge the same records
DRY_RUN = False
#: A secret that the pre-training config carries: it must reach the server nowhere.
SECRET = "gpu-check-" + "0123456789abcdef" * 2


def _train_kwargs(data: Path, work: Path, name: str) -> dict[str, Any]:
    return {
        "data": str(data),
        "epochs": EPOCHS,
        "imgsz": 64,
        "batch": 8,
        "workers": 0,
        "plots": False,
        "amp": not DRY_RUN,  # autocast + GradScaler: only ever exercised on CUDA
        "project": str(work / "runs"),
        "name": name,
        "exist_ok": True,
    }


def _judge(server: Any, project: str, artifacts: tuple[str, ...], epochs: int | None) -> dict[str, Any]:
    """The server's records of the project's one run, judged by verify's rules."""
    from wandb_ddp_bridge.tools.verify import Expectations, check_run, from_server

    runs = server.runs(project=project)
    verdict: dict[str, Any] = {"runs_in_project": len(runs)}
    if len(runs) != 1:
        verdict["passed"] = False
        return verdict
    record = runs[0]
    path = f"{record.entity}/{record.project}/{record.id}"
    report = check_run(from_server(path, server), Expectations(epochs=epochs, artifacts=artifacts, secrets=(SECRET,)))
    epochs_logged = sorted({int(r["epoch"]) for r in record.history if r.get("epoch") is not None})
    verdict.update(
        path=path,
        state=record.state,
        sessions=[(s.resume_mode, s.exit_code) for s in record.sessions] if record.sessions else [],
        history_rows=len(record.history),
        epochs_logged=epochs_logged,
        artifacts=sorted({a.name for a in record.artifacts}),
        secret_on_server=SECRET in server.all_received_text(),
        checks=[(c.name, c.ok, c.detail) for c in report.checks],
        passed=report.passed and SECRET not in server.all_received_text(),
    )
    print(report.table(), flush=True)
    return verdict


def _yolo_scenario(
    server: Any, data: Path, work: Path, *, fast_path: str, checkpoints: str | None = None
) -> dict[str, Any]:
    import torch
    from ultralytics import YOLO

    from wandb_ddp_bridge import wandb_session

    project = f"gpu-{fast_path}" + ("-checkpoints" if checkpoints else "")
    if not DRY_RUN:
        torch.cuda.reset_peak_memory_stats(0)
    model = YOLO("yolov8n.yaml")
    with wandb_session(
        project=project,
        devices="cpu" if DRY_RUN else "0",
        fast_path=fast_path,
        job_type="training",
        checkpoints=checkpoints,
    ) as s:
        s.save_config({"train": {"epochs": EPOCHS}, "db": {"password": SECRET}})
        with s.handoff(model) as h:
            h.train(**_train_kwargs(data, work, f"train-{fast_path}"))
        best = h.result.best if h.result is not None else None
        if best is None or not Path(best).exists():
            raise RuntimeError(f"training produced no best weights ({best})")
        s.log_model(best, name="best")
    trainer = getattr(model, "trainer", None)
    device = str(getattr(trainer, "device", None))
    verdict = _judge(server, project, ("config", "best"), EPOCHS)
    verdict.update(
        trainer_device=device,
        amp=bool(getattr(trainer, "amp", False)),
        cuda_peak_mib=0.0 if DRY_RUN else round(torch.cuda.max_memory_allocated(0) / 2**20, 1),
    )
    on_gpu = device.startswith("cuda") and verdict["cuda_peak_mib"] > 0
    verdict["passed"] = bool(verdict["passed"] and (on_gpu or DRY_RUN))
    if checkpoints:  # every epoch's last.pt became a version of the run's checkpoint artifact
        [record] = server.runs(project=project)
        versions = [a for a in record.artifacts if a.name == f"checkpoint-{record.id}"]
        verdict["checkpoint_versions"] = sorted((a.version_index, a.aliases) for a in versions)
        verdict["passed"] = bool(verdict["passed"] and any("latest" in a.aliases for a in versions))
    return verdict


def _torchrun_scenario(server: Any, data: Path, work: Path) -> dict[str, Any]:
    del data, work
    project = "gpu-torchrun-nccl"
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "torchrun_custom_loop.py"),
            "--nproc",
            "1",
            "--epochs",
            str(EPOCHS),
            "--project",
            project,
        ],
        env={**os.environ, **server.env()},
        capture_output=True,
        text=True,
        timeout=240,
    )
    tail = (proc.stdout + proc.stderr)[-3000:]
    print(tail, flush=True)
    verdict = _judge(server, project, ("config", "custom-loop-model"), EPOCHS)
    verdict.update(returncode=proc.returncode, seconds=round(time.perf_counter() - started, 1))
    verdict["passed"] = bool(verdict["passed"] and proc.returncode == 0)
    if proc.returncode != 0:
        verdict["output_tail"] = tail
    return verdict


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "in-process": lambda srv, data, work: _yolo_scenario(srv, data, work, fast_path="auto"),
    "handoff": lambda srv, data, work: _yolo_scenario(srv, data, work, fast_path="never"),
    "torchrun": _torchrun_scenario,
    "checkpoints": lambda srv, data, work: _yolo_scenario(srv, data, work, fast_path="auto", checkpoints="wandb"),
}


def _environment() -> dict[str, Any]:
    import torch
    import ultralytics
    import wandb

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "nccl": ".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() else None,
        "ultralytics": ultralytics.__version__,
        "wandb": wandb.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenario names")
    parser.add_argument("--cpu-dry-run", action="store_true", help="rehearse on the CPU (proves nothing about CUDA)")
    parser.add_argument("--label", default="", help="suffix of the result file (e.g. the Ultralytics release)")
    args = parser.parse_args(argv)
    global DRY_RUN
    DRY_RUN = args.cpu_dry_run
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    os.environ.setdefault("YOLO_CONFIG_DIR", str(work / "yolo-config"))
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["WANDB_DIR"] = str(work / "wandb")
    (work / "wandb").mkdir()

    from wandb_ddp_bridge.testing import LocalWandbServer
    from wandb_ddp_bridge.tools.datasets import make_detection_dataset

    results: dict[str, Any] = {"environment": _environment(), "scenarios": {}}
    print(json.dumps(results["environment"]), flush=True)
    if not results["environment"]["cuda_available"] and not DRY_RUN:
        print("no CUDA device: this check proves nothing here", file=sys.stderr)
        return 2
    data = make_detection_dataset(work / "dataset", images=16)
    with LocalWandbServer(work / "server") as server:
        os.environ.update({k: v for k, v in server.env().items() if k != "WANDB_MODE"})
        for name in args.only.split(","):
            print(f"\n===== scenario {name} =====", flush=True)
            started = time.perf_counter()
            try:
                verdict = SCENARIOS[name](server, data, work)
            except Exception as exc:  # record and go on: one broken scenario must not hide the others
                verdict = {
                    "passed": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc()[-4000:],
                }
                traceback.print_exc()
            verdict["wall_s"] = round(time.perf_counter() - started, 1)
            results["scenarios"][name] = verdict
            print(f"scenario {name}: {'PASSED' if verdict['passed'] else 'FAILED'}", flush=True)
            (args.out / f"gpu_check{args.label}.json").write_text(json.dumps(results, indent=2, default=str))
    passed = all(v["passed"] for v in results["scenarios"].values())
    print(f"\nGPU end-to-end check: {'PASSED' if passed else 'FAILED'}", flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
