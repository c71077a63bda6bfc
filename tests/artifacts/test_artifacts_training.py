"""A real (tiny, CPU) Ultralytics training between the PRE and POST artifacts: everything lands in one run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from wandb_ddp_bridge import wandb_session

pytest.importorskip("ultralytics")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ultralytics"))
ul_rig = pytest.importorskip("ul_rig")


@pytest.mark.slow
def test_config_training_and_model_artifacts_share_the_one_run(wandb_server: Any, tmp_path: Path) -> None:
    from ultralytics import YOLO

    data = ul_rig.make_dataset(tmp_path / "ds")
    model = YOLO("yolov8n.yaml")
    with wandb_session(project="yolo-artifacts") as s:
        s.save_config({"model": "yolov8n.yaml", "api_key": wandb_server.api_key})
        s.save_artifacts(data.parent, name="yolo-dataset", type="dataset")
        training = ul_rig.train_kwargs(data, tmp_path / "runs")
        with s.handoff(model) as h:
            h.train(**training, device="cpu")
        assert h.result.best is not None and Path(h.result.best).exists()
        s.log_model(h.result.best, name="yolo-best-final", aliases=("latest", "final"))
        run_id = s.id
    assert len(wandb_server.runs()) == 1
    record = wandb_server.run(run_id)
    # every epoch arrived, exactly once, in order (Ultralytics numbers them from 1)
    epochs = [row["epoch"] for row in record.history if "epoch" in row]
    assert epochs == list(range(1, training["epochs"] + 1)), record.history
    names = {a.name: a for a in record.artifacts}
    assert {"config", "yolo-dataset", "yolo-best-final"} <= set(names), sorted(names)
    assert all(a.run_path == record.path for a in record.artifacts)
    final = names["yolo-best-final"]
    assert final.type == "model" and {"latest", "final"} <= set(final.aliases)
    assert final.entry(Path(h.result.best).name).size == Path(h.result.best).stat().st_size
    assert wandb_server.api_key not in wandb_server.all_received_text()
