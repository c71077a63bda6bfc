"""What the handoff itself hands to a child process: base URL, API key, mode and entity reach a training child
only through the handoff's export (``wandb_server_unexported``: none of them is in the test's environment),
and what the session sets on the run (tags, notes, job type, group, summary writes) survives the finish and
the two resumes. Checked on the local server's records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from wandb_ddp_bridge import wandb_session

ENTITY = "team-x"  # not the server's default entity: a child that lost it resumes nothing
CHILD = textwrap.dedent(
    """
    import json, os, sys
    import wandb_ddp_bridge as bridge
    seen = {name: name in os.environ for name in ("WANDB_BASE_URL", "WANDB_API_KEY", "WANDB_MODE", "WANDB_ENTITY")}
    run = bridge.attach()
    for epoch in range(1, 3):
        run.log({"epoch": epoch, "loss": 1.0 / epoch})
    print("CHILD " + json.dumps({"id": run.id, "entity": run.entity, "mode": run.settings.mode, "seen": seen}))
    bridge.detach()
    """
)


def _child() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("CHILD "))
    return dict(json.loads(line[len("CHILD ") :]))


def test_the_fixture_exports_no_server_setting(wandb_server_unexported: Any) -> None:
    for name in ("WANDB_BASE_URL", "WANDB_API_KEY", "WANDB_MODE", "WANDB_ENTITY"):
        assert name not in os.environ


def test_a_child_reaches_the_run_through_the_handoff_alone(wandb_server_unexported: Any) -> None:
    server = wandb_server_unexported
    settings = {"base_url": server.base_url, "api_key": server.api_key, "mode": "online", "entity": ENTITY}
    with wandb_session(project="propagation", **settings) as s:
        s.summary["pre/images"] = 8
        with s.handoff():
            child = _child()
        s.summary["post/score"] = 0.9
        s.summary.update({"post/f1": 0.8})
        s.log({"post/metric": 1.0})
    # before the handoff the child had none of them; the handoff exported every one
    assert child["seen"] == dict.fromkeys(("WANDB_BASE_URL", "WANDB_API_KEY", "WANDB_MODE", "WANDB_ENTITY"), True)
    assert (child["id"], child["entity"], child["mode"]) == (s.id, ENTITY, "online")
    [run] = server.runs()
    assert run.path == f"{ENTITY}/propagation/{s.id}"
    assert run.created_count == 1 and not run.overlapping
    assert [(x.resume_mode, x.exit_code) for x in run.sessions] == [("none", 0), ("must", 0), ("must", 0)]
    assert [row["epoch"] for row in run.history if "epoch" in row] == [1, 2]
    assert (run.summary["pre/images"], run.summary["post/score"], run.summary["post/f1"]) == (8, 0.9, 0.8)
    assert run.summary["post/metric"] == 1.0
    assert server.events("auth_failure") == []


def test_an_offline_session_hands_its_mode_to_the_child(tmp_path: Path) -> None:
    # no WANDB_* setting in the environment (tests/conftest.py) and no API key: online, the child would fail
    with wandb_session(project="propagation", mode="offline", dir=str(tmp_path)) as s, s.handoff():
        child = _child()
    assert (child["id"], child["mode"]) == (s.id, "offline")
    assert child["seen"]["WANDB_MODE"] and not child["seen"]["WANDB_API_KEY"]


@pytest.mark.parametrize("fast_path", ["auto", "never"])
def test_tags_notes_job_type_and_group_survive_finish_and_resume(wandb_server_unexported: Any, fast_path: str) -> None:
    server = wandb_server_unexported
    with wandb_session(
        project="metadata",
        base_url=server.base_url,
        api_key=server.api_key,
        entity=ENTITY,
        tags=["baseline", "ddp"],
        notes="first try",
        job_type="train-detector",
        group="sweep-7",
        fast_path=fast_path,
    ) as s:
        with s.handoff():
            _child()
        s.summary["post/score"] = 1.0
    [run] = server.runs()
    assert len(run.sessions) == 3 and all(x.exit_code == 0 for x in run.sessions), run.sessions
    assert sorted(run.tags) == ["baseline", "ddp"]
    assert (run.notes, run.job_type, run.group) == ("first try", "train-detector", "sweep-7")
    assert run.summary["post/score"] == 1.0
