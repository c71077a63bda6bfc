"""What "training landed in the user's one run" means, checked against the local server's records."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROBE = HERE / "probe"

EPOCHS = 2


def native_callback_breaks_on_untrained_models() -> bool:
    """True where Ultralytics' own W&B callback cannot finish a 2-epoch run from scratch, bridge or not.

    8.3.0's ``on_train_end`` reads ``validator.metrics.curves_results`` unguarded; it exists only after a
    validation with a true positive, which an untrained yolov8n never has (AttributeError). Later releases
    guard it with ``hasattr``.
    """
    import inspect

    from ultralytics.utils.callbacks import wb

    source = inspect.getsource(wb.on_train_end)
    return "curves_results" in source and "hasattr" not in source


TRAIN_LOSS = "train/box_loss"
VAL_METRIC = "metrics/mAP50(B)"


def assert_one_run_with_every_phase(
    server: Any, result: dict[str, Any], *, project: str, sessions: int | None = 3
) -> Any:
    """Exactly one run, in ``project``; every epoch, the PRE/POST data and all three artifacts on it.

    With ``sessions=3`` the writer sessions must be exactly PRE (created) -> training -> POST (both resumed).
    """
    runs = server.runs()
    assert [(r.project, r.id) for r in runs] == [(project, result["pre_id"])], "a second run was created"
    run = runs[0]
    assert result["post_id"] == run.id
    assert run.created_count == 1
    assert not run.overlapping, run.sessions
    assert all(s.complete and s.exit_code == 0 for s in run.sessions), run.sessions
    spans = [(s.started, s.ended) for s in run.sessions]
    assert all(a[1] is not None and a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
    if sessions is not None:
        assert len(run.sessions) == sessions, run.sessions
        if sessions == 3:
            assert [s.resume_mode for s in run.sessions] == ["none", "must", "must"], run.sessions

    # every training epoch arrived exactly once although the PRE phase logged (old releases: step=epoch+1)
    train_rows = [row for row in run.history if TRAIN_LOSS in row]
    assert len(train_rows) == EPOCHS, run.history
    assert sum(1 for row in run.history if VAL_METRIC in row) >= EPOCHS, run.history
    assert any(key.startswith("lr/") for key in train_rows[0]), train_rows[0]
    post_rows = [i for i, row in enumerate(run.history) if "post/score" in row]
    assert post_rows and post_rows[0] > run.history.index(train_rows[-1]), "POST must come after training"
    assert run.summary.get("pre/images") == 8, run.summary
    assert run.config["config"]["model"] == "yolov8n.yaml", run.config

    artifacts = {a.type: a for a in run.artifacts}
    assert {"dataset", "report", "model"} <= set(artifacts), [(a.name, a.type) for a in run.artifacts]
    assert artifacts["model"].name == f"run_{run.id}_model"
    assert any(e.path == "best.pt" for e in artifacts["model"].entries), artifacts["model"].entries
    if sessions == 3:
        assert artifacts["dataset"].session_index == 0
        assert artifacts["model"].session_index == 1
        assert artifacts["report"].session_index == 2
    assert result["best_exists"]
    return run


def run_scenario_subprocess(
    workdir: Path, server: Any, **options: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ul_scenario.py outside pytest (so Ultralytics' own W&B callback may run) with the wandb.init probe.

    Returns the scenario's result and one probe record per ``wandb.init`` call, in any process.
    """
    probes = workdir / "probes"
    probes.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(server.env())
    env.update(
        YOLO_CONFIG_DIR=str(workdir / "yolo-config"),
        YOLO_OFFLINE="true",
        UL_PROBE_DIR=str(probes),
        PYTHONPATH=os.pathsep.join(p for p in (str(PROBE), str(HERE), os.environ.get("PYTHONPATH")) if p),
        OMP_NUM_THREADS="1",
    )
    arguments = json.dumps({"workdir": str(workdir), "base_url": server.base_url, **options})
    proc = subprocess.run(
        [sys.executable, str(HERE / "ul_scenario.py"), arguments],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=280,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    records = [json.loads(p.read_text()) for p in sorted(probes.glob("init-*.json"))]
    return json.loads(line[len("RESULT ") :]), records
