"""Test rig for the Ultralytics integration: synthetic datasets per task and a CPU stand-in for multi-GPU DDP.

Importable by module name (``ul_rig``) from this directory, so Ultralytics' DDP workers can rebuild the rig's
trainer the way they rebuild any user trainer: old releases do ``from <module> import <Class>``, new ones
unpickle the class by reference. The worker environment must therefore carry this directory on PYTHONPATH.

The CPU DDP trainers (:data:`CPU_DDP_TRAINERS`, one per task) make Ultralytics' own ``generate_ddp_command``
-> ``torch.distributed.run`` -> two gloo worker processes happen on a machine without GPUs, staying faithful
to a real GPU launcher:

* launcher: a CPU device makes ``world_size`` 0, so the base ``__init__`` would add the integration callbacks
  and run ``on_pretrain_routine_start`` there. A GPU launcher (``ddp=True``) does neither, so the rig runs no
  callbacks during its ``__init__``, keeps the callbacks exactly as passed in, then sets ``world_size=2,
  ddp=True``;
* worker: ``init_process_group("gloo")`` on CPU, ``DistributedDataParallel`` without ``device_ids``, and the
  final validation's model kept on CPU on every rank (both ranks still run it: barriers and a gather);
* 8.3.0 computes the world size inside ``train()`` from the device string, so there the rig launches itself.
"""

from __future__ import annotations

import inspect
import os
import subprocess
from copy import copy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ultralytics.models.yolo.classify import ClassificationTrainer
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.models.yolo.obb import OBBTrainer
from ultralytics.models.yolo.pose import PoseTrainer
from ultralytics.models.yolo.segment import SegmentationTrainer

WORLD_SIZE = 2
#: The model of each task the tests train (built from its yaml: nothing downloaded).
MODELS = {
    "detect": "yolov8n.yaml",
    "segment": "yolov8n-seg.yaml",
    "pose": "yolov8n-pose.yaml",
    "obb": "yolov8n-obb.yaml",
    "classify": "yolov8n-cls.yaml",
}
#: The tasks the per-task tests train: all of them, unless ``BRIDGE_TEST_TASKS`` (comma-separated) narrows it.
#: CI runs every task on the newest release and only ``detect`` in the older-release compat session.
TASKS = tuple(t for t in MODELS if t in os.environ.get("BRIDGE_TEST_TASKS", ",".join(MODELS)).split(","))


def make_dataset(root: Path, *, images: int = 8, size: int = 64, task: str = "detect") -> Path:
    """Random RGB images with one box each, labelled for ``task``; returns the ``data`` argument (the
    package's generators)."""
    from wandb_ddp_bridge.tools.datasets import make_task_dataset

    return make_task_dataset(root, task, images=images, size=size)


def train_kwargs(data: Path, project: Path, **extra: Any) -> dict[str, Any]:
    """The smallest real training: 2 epochs of yolov8n at 64 px on CPU, nothing downloaded."""
    kwargs: dict[str, Any] = {
        "data": str(data),
        "epochs": 2,
        "imgsz": 64,
        "batch": 4,
        "workers": 0,
        "plots": False,
        "amp": False,
        "val": True,
        "project": str(project),
        "name": "train",
        "exist_ok": True,
        "verbose": False,
    }
    kwargs.update(extra)
    return kwargs


def _in_worker() -> bool:
    return "LOCAL_RANK" in os.environ


def _patch_worker_for_cpu() -> None:
    """Process-local patches a CPU worker needs; the launcher and single-process training never get them."""
    import torch
    import ultralytics.engine.validator as validator_module

    base_ddp = torch.nn.parallel.DistributedDataParallel
    if not getattr(base_ddp, "_rig_cpu", False):

        class CPUDistributedDataParallel(base_ddp):  # type: ignore[misc, valid-type]
            """DDP over a CPU module: ``device_ids`` must be ``None`` (Ultralytics passes a GPU index)."""

            _rig_cpu = True

            def __init__(self, module: Any, device_ids: Any = None, *args: Any, **kwargs: Any) -> None:
                super().__init__(module, None, *args, **kwargs)

        torch.nn.parallel.DistributedDataParallel = CPUDistributedDataParallel  # type: ignore[misc]

    auto_backend = validator_module.AutoBackend
    if not getattr(auto_backend, "_rig_cpu", False):

        def cpu_auto_backend(*args: Any, **kwargs: Any) -> Any:
            # DDP ranks validate on "cuda:<current device>"; the rig keeps that model on CPU on every rank.
            kwargs["device"] = torch.device("cpu")
            return auto_backend(*args, **kwargs)

        cpu_auto_backend._rig_cpu = True  # type: ignore[attr-defined]
        validator_module.AutoBackend = cpu_auto_backend
    if hasattr(validator_module, "get_torch_device_backend"):
        # Computing that "cuda:<current device>" argument already asks CUDA (8.4.x); answer device 0.
        validator_module.get_torch_device_backend = lambda _type: SimpleNamespace(current_device=lambda: 0)


def _old_style() -> bool:
    """8.3.0-era trainers get the world size as an argument of ``_do_train`` (later: from ``__init__``)."""
    from ultralytics.engine.trainer import BaseTrainer

    return "world_size" in inspect.signature(BaseTrainer._do_train).parameters


class _CPUDDP:
    """Mixed in front of a task trainer: its ``device="cpu"`` training runs as 2 gloo ranks through
    Ultralytics' launcher."""

    callbacks: dict[str, list[Any]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        launcher = not _in_worker()
        self._rig_quiet = launcher and not _old_style()
        if launcher:
            passed = kwargs.get("_callbacks") or (args[2] if len(args) > 2 else None)
        super().__init__(*args, **kwargs)
        self._rig_quiet = False
        if launcher and not _old_style():
            from ultralytics.utils import callbacks as callbacks_module

            # A GPU launcher keeps the callbacks it was given and adds no integrations.
            self.callbacks = copy(passed) if passed else callbacks_module.get_default_callbacks()
            for event, fns in self.callbacks.items():
                self.callbacks[event] = list(fns)
            self.world_size, self.ddp = WORLD_SIZE, True
        elif launcher:
            # 8.3.0 has no `ddp` attribute; the bridge then reads a multi-GPU device string, which the rig's
            # "cpu" is not. Say what device="0,1" would mean there.
            self.ddp = True
        else:
            self.world_size = int(os.environ["WORLD_SIZE"])
            _patch_worker_for_cpu()

    def run_callbacks(self, event: str) -> None:
        if not self._rig_quiet:
            super().run_callbacks(event)

    def _setup_ddp(self, *args: Any) -> None:
        import torch
        import torch.distributed as dist
        from ultralytics.utils import RANK

        self.device = torch.device("cpu")
        dist.init_process_group(
            backend="gloo",
            timeout=timedelta(seconds=300),
            rank=RANK,
            world_size=int(os.environ["WORLD_SIZE"]),
        )

    def train(self) -> Any:
        if not _old_style():
            return super().train()
        # 8.3.0 derives the world size from the device inside train(): launch and run as it would on GPUs.
        if not _in_worker():
            from ultralytics.utils.dist import ddp_cleanup, generate_ddp_command

            cmd, file = generate_ddp_command(WORLD_SIZE, self)
            try:
                subprocess.run(cmd, check=True)
            finally:
                ddp_cleanup(self, str(file))
            return None
        return self._do_train(int(os.environ["WORLD_SIZE"]))


class CPUDDPDetectionTrainer(_CPUDDP, DetectionTrainer):  # type: ignore[misc]
    pass


class CPUDDPSegmentationTrainer(_CPUDDP, SegmentationTrainer):  # type: ignore[misc]
    pass


class CPUDDPPoseTrainer(_CPUDDP, PoseTrainer):  # type: ignore[misc]
    pass


class CPUDDPOBBTrainer(_CPUDDP, OBBTrainer):  # type: ignore[misc]
    pass


class CPUDDPClassificationTrainer(_CPUDDP, ClassificationTrainer):  # type: ignore[misc]
    pass


#: The CPU DDP trainer of each task (module-level classes: the DDP workers import them by name).
CPU_DDP_TRAINERS: dict[str, type] = {
    "detect": CPUDDPDetectionTrainer,
    "segment": CPUDDPSegmentationTrainer,
    "pose": CPUDDPPoseTrainer,
    "obb": CPUDDPOBBTrainer,
    "classify": CPUDDPClassificationTrainer,
}
