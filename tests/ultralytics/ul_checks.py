"""What "training landed in the user's one run" means, checked against the local server's records."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import read_init_probes

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


PRE_ROWS = 3  # ul_scenario logs 3 PRE rows (`pre/shard` 0..2)


def training_rows(run: Any) -> list[dict[str, Any]]:
    """The per-epoch rows: those holding training losses (the final validation's rows hold none)."""
    return [row for row in run.history if any(key.startswith("train/") for key in row)]


def assert_every_row_in_order(run: Any, *, epochs: int = EPOCHS) -> None:
    """PRE rows, then one row per epoch, epochs 1..N each exactly once right after them, then the POST row.

    Releases that log with explicit steps (`native_explicit_step`) write no ``epoch`` key: there the epoch
    is where the bridge rebased the row, the step after the PRE rows (epoch 1) and on.
    """
    pre = [row["_step"] for row in run.history if "pre/shard" in row]
    assert pre == list(range(PRE_ROWS)), ("the PRE rows must be history rows 0..2", run.history)
    rows = training_rows(run)
    numbers = [row["_step"] - pre[-1] for row in rows]
    assert numbers == list(range(1, epochs + 1)), ("every epoch once, right after PRE", run.history)
    keyed = [row["epoch"] for row in rows if "epoch" in row]
    assert keyed in ([], numbers), ("the epoch key must number the rows 1..N", run.history)
    post = [row["_step"] for row in run.history if "post/score" in row]
    assert len(post) == 1 and post[0] > rows[-1]["_step"], ("POST must come after training", run.history)
    assert post[0] == max(row["_step"] for row in run.history), run.history


def assert_one_run_with_every_phase(
    server: Any, result: dict[str, Any], *, project: str, sessions: int | None = 3, model_artifact: bool = True
) -> Any:
    """Exactly one run, in ``project``; every epoch in order between the PRE and POST rows, the PRE/POST data
    and all three artifacts (without ``model_artifact``: the dataset and report) on it.

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
    assert_every_row_in_order(run)
    for row in training_rows(run):
        assert any(key.startswith("metrics/") for key in row), row  # validation merged into the epoch's row
        assert any(key.startswith("lr/") for key in row), row
    assert run.summary.get("pre/images") in (4, 8), run.summary
    assert str(run.config["config"]["model"]).startswith("yolov8n"), run.config

    artifacts = {a.type: a for a in run.artifacts}
    assert {"dataset", "report"} <= set(artifacts), [(a.name, a.type) for a in run.artifacts]
    if model_artifact:
        assert "model" in artifacts, [(a.name, a.type) for a in run.artifacts]
        assert artifacts["model"].name == f"run_{run.id}_model"
        assert any(e.path == "best.pt" for e in artifacts["model"].entries), artifacts["model"].entries
    if sessions == 3:
        assert artifacts["dataset"].session_index == 0
        assert not model_artifact or artifacts["model"].session_index == 1
        assert artifacts["report"].session_index == 2
    assert result["best_exists"]
    return run


def run_scenario_subprocess(
    workdir: Path, server: Any, *, timeout: float = 280, **options: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ul_scenario.py outside pytest (so Ultralytics' own W&B callback may run) with the wandb.init probe.

    Returns the scenario's result and one probe record per ``wandb.init`` call, in any process.
    """
    probes = workdir / "probes"
    probes.mkdir(parents=True)
    # Ultralytics turns its W&B callback off under pytest and on GitHub Actions (`TESTS_RUNNING`); stale
    # W&B variables of the host would point the client elsewhere.
    hidden = ("PYTEST_CURRENT_TEST", "GITHUB_ACTIONS")
    env = {k: v for k, v in os.environ.items() if k not in hidden and not k.startswith("WANDB_")}
    env.update(server.env())
    for name in ("DIR", "CONFIG_DIR", "CACHE_DIR", "DATA_DIR"):
        env[f"WANDB_{name}"] = str(workdir / f"wandb-{name.lower()}")
    env.update(
        YOLO_CONFIG_DIR=str(workdir / "yolo-config"),
        YOLO_OFFLINE="true",
        UL_PROBE_DIR=str(probes),
        PYTHONPATH=os.pathsep.join(p for p in (str(PROBE), str(HERE), os.environ.get("PYTHONPATH")) if p),
        OMP_NUM_THREADS="1",
    )
    options.setdefault("hang_after", max(timeout - 40, 30))
    arguments = json.dumps({"workdir": str(workdir), "base_url": server.base_url, **options})
    proc = subprocess.run(
        [sys.executable, str(HERE / "ul_scenario.py"), arguments],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    records = read_init_probes(probes)
    return json.loads(line[len("RESULT ") :]), records


class OneProject:
    """The records of one project of a server several scenarios share (``runs()`` as the server's)."""

    def __init__(self, server: Any, project: str) -> None:
        self._server, self._project = server, project

    def runs(self) -> list[Any]:
        return list(self._server.runs(project=self._project))


def panel_inventory(run: Any) -> dict[str, set[str]]:
    """What a user sees of a training's panels: history keys, media (``key: type``), artifact types."""
    keys: set[str] = set()
    media: set[str] = set()
    for row in run.history:
        for key, value in row.items():
            if key.startswith("_") or key.startswith(("pre/", "post/")):
                continue
            keys.add(key)
            if isinstance(value, dict) and "_type" in value:
                media.add(f"{key}: {value['_type']}")
    artifacts = {a.type for a in run.artifacts} - {"dataset", "report"}
    return {"history keys": keys, "media": media, "artifact types": artifacts}


def assert_panels_include(bridged: Any, native: Any) -> dict[str, set[str]]:
    """The bridged run holds every history key, media panel (same type) and artifact type of the native run."""
    ours, theirs = panel_inventory(bridged), panel_inventory(native)
    missing = {what: sorted(theirs[what] - ours[what]) for what in theirs if theirs[what] - ours[what]}
    assert not missing, f"the bridged run lacks what Ultralytics' own callback logs: {missing}"
    assert any(item.endswith("image-file") for item in theirs["media"]), theirs  # the comparison means something
    return ours
