"""The handoff with the real wandb SDK in offline mode (no backend needed): the run id a child attaches to, ranks
that get no run, the environment exported and restored exactly, a failing training marked and re-raised.

Offline mode accepts resume="must" for anything, so resume semantics are proven against the local server
(tests/restarts, tests/reliability); these prove the process-level behaviour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.env import HANDOFF_ENV_VAR

CHILD = textwrap.dedent(
    """
    import json, sys
    import wandb_ddp_bridge as bridge
    run = bridge.attach()
    print(json.dumps({"id": run.id if run else None}))
    if run is not None:
        run.log({"loss": 0.5})
    bridge.detach()
    """
)


def _run_child(extra_env: dict[str, str] | None = None) -> dict[str, object]:
    env = dict(os.environ, **(extra_env or {}))
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_same_run_id_in_pre_child_and_post(tmp_path: Path) -> None:
    with wandb_session(project="offline-proj", mode="offline", dir=str(tmp_path)) as s:
        pre_id = s.id
        assert pre_id and s.run is not None
        with s.handoff():
            assert s.run is None
            child = _run_child()
        assert s.id == pre_id and s.run is not None and s.run.id == pre_id
        s.log({"final": 1})
    assert child["id"] == pre_id


def test_non_main_rank_child_gets_none(tmp_path: Path) -> None:
    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s, s.handoff():
        child = _run_child({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert child["id"] is None


def test_env_is_exactly_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "users-own-default")
    before = {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}
    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        with s.handoff():
            assert os.environ["WANDB_PROJECT"] == "p"
            assert os.environ[HANDOFF_ENV_VAR]
        assert os.environ["WANDB_PROJECT"] == "users-own-default"
    after = {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}
    assert after == before


def test_exception_in_handoff_resumes_marks_failed_and_reraises(tmp_path: Path) -> None:
    class TrainingBroke(Exception):
        pass

    with (
        pytest.raises(TrainingBroke, match="loss is nan"),
        wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s,
    ):
        with pytest.raises(TrainingBroke), s.handoff():
            raise TrainingBroke("loss is nan")
        assert s.run is not None  # resumed for the post phase
        assert s.run.summary["bridge_failed"] is True
        assert "TrainingBroke: loss is nan" in s.run.summary["bridge_failure"]
        assert s.training_failed
        raise TrainingBroke("loss is nan")
