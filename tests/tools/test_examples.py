"""Every example runs (CPU, tiny data) and its run passes the same verification as `verify`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from wandb_ddp_bridge.tools.verify import Expectations, verify_run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

CASES = [
    ("single_gpu_yolo.py", ["--smoke"], ("best",)),
    ("hydra_config.py", ["--smoke"], ("best",)),
    ("wandb_manager_adapter.py", ["--smoke"], ("best",)),
    ("torchrun_custom_loop.py", ["--smoke", "--nproc", "2"], ("custom-loop-model",)),
]


def _check_single_run(server: Any, artifacts: tuple[str, ...]) -> None:
    runs = server.runs()
    assert len(runs) == 1, [r.path for r in runs]
    report = verify_run(
        runs[0].path,
        base_url=server.url,
        api_key=server.api_key,
        server=server,
        expect=Expectations(artifacts=artifacts),
    )
    assert report.passed, report.table()


@pytest.mark.slow
@pytest.mark.parametrize(("script", "args", "artifacts"), CASES, ids=[c[0] for c in CASES])
def test_example_makes_one_verified_run(
    wandb_server: Any, run_python: Any, script: str, args: list[str], artifacts: tuple[str, ...]
) -> None:
    pytest.importorskip("ultralytics")
    if script == "hydra_config.py":
        pytest.importorskip("omegaconf")
    result = run_python(str(EXAMPLES / script), *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    _check_single_run(wandb_server, artifacts)


@pytest.mark.slow
def test_multi_gpu_example_runs_real_ddp_on_cpu(wandb_server: Any, run_python: Any) -> None:
    """Two gloo ranks through Ultralytics' own launcher (the test rig's trainer stands in for GPUs)."""
    pytest.importorskip("ultralytics")
    rig = ROOT / "tests" / "ultralytics"
    if not (rig / "ul_rig.py").exists():
        pytest.skip("the CPU DDP rig (tests/ultralytics/ul_rig.py) is not present")
    pythonpath = os.pathsep.join(filter(None, [str(rig), os.environ.get("PYTHONPATH")]))
    result = run_python(
        str(EXAMPLES / "multi_gpu_yolo.py"),
        "--smoke",
        "--trainer",
        "ul_rig:CPUDDPDetectionTrainer",
        extra_env={"PYTHONPATH": pythonpath},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    _check_single_run(wandb_server, ("best",))
