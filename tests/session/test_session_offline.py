"""The session with the real wandb SDK in offline mode (no backend needed): phase misuse, adopted runs, ranks,
the summary view. Offline mode cannot prove resume semantics (it accepts resume="must" for anything): the
server-backed tests (tests/restarts, tests/reliability) do; the handoff's own are in tests/handoff.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wandb_ddp_bridge import PhaseError, wandb_session


def test_misuse_raises_phase_errors_with_guidance(tmp_path: Path) -> None:
    s = wandb_session(project="p", mode="offline", dir=str(tmp_path))
    with pytest.raises(PhaseError, match="has not started"):
        s.log({"x": 1})
    with s:
        with s.handoff():
            with pytest.raises(PhaseError, match="handed off to training"):
                s.log({"x": 1})
            with pytest.raises(PhaseError, match="handed off to training"):
                s.summary["x"] = 1
            with pytest.raises(PhaseError, match="do not nest"):
                s.handoff().__enter__()
        with pytest.raises(PhaseError, match="another session is already open"):
            wandb_session(project="p", mode="offline", dir=str(tmp_path)).__enter__()
    with pytest.raises(PhaseError, match="has finished"):
        s.log({"x": 1})
    with pytest.raises(PhaseError, match="exactly once"):
        s.__exit__(None, None, None)


def test_a_run_the_user_opened_is_refused_or_adopted(tmp_path: Path) -> None:
    import wandb

    run = wandb.init(project="p", mode="offline", dir=str(tmp_path))
    try:
        with pytest.raises(PhaseError, match="already open in this process"):
            wandb_session(project="p", mode="offline", dir=str(tmp_path)).__enter__()
        with wandb_session.adopt(run, mode="offline", dir=str(tmp_path)) as s:
            assert s.id == run.id
        assert wandb.run is None  # the session finished the adopted run
    finally:
        if wandb.run is not None:
            wandb.run.finish()


NON_MAIN = textwrap.dedent(
    """
    import os, sys
    from wandb_ddp_bridge import wandb_session, PhaseError
    with wandb_session(project="p") as s:
        assert s.run is None and s.id is None and s.url is None
        s.log({"a": 1}); s.summary["b"] = 2; s.save_config({"lr": 0.1}); s.save_metadata({"x": 1})
        with s.handoff():
            try:
                s.log({"c": 1})
            except PhaseError:
                print("phase-checked")
        s.log({"d": 1})
    print("wandb imported:", "wandb" in sys.modules)
    """
)


def test_non_main_rank_never_touches_wandb(tmp_path: Path) -> None:
    env = dict(os.environ, RANK="1", WORLD_SIZE="2", LOCAL_RANK="1", WANDB_DIR=str(tmp_path), WANDB_MODE="offline")
    done = subprocess.run(
        [sys.executable, "-c", NON_MAIN], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "phase-checked" in done.stdout
    assert "wandb imported: False" in done.stdout
    assert list(tmp_path.rglob("*")) == []


def test_summary_off_the_main_process_is_an_empty_write_ignoring_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wandb_ddp_bridge._wandb import active_run_if_loaded

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        summary = s.summary
        summary["written"] = 1
        summary.update({"a": 1}, b=2)
        assert summary["written"] is None  # code written for rank 0 reads None here, never a KeyError
        assert "written" not in summary and summary.get("written", "default") == "default"
        assert len(summary) == 0 and list(summary) == [] and dict(summary.items()) == {}
        del summary["written"]
        assert summary.pop("written", None) is None and summary.setdefault("x", 1) is None
        assert s.run is None and s.id is None and not s.is_main_process
        with s.handoff():
            with pytest.raises(PhaseError, match="handed off to training"):
                summary["during"] = 1
            with pytest.raises(PhaseError, match="handed off to training"):
                _ = summary["during"]  # reads are phase-checked too, on every rank
    assert active_run_if_loaded() is None
    assert list(tmp_path.iterdir()) == []


def test_summary_on_the_main_process_is_the_runs(tmp_path: Path) -> None:
    with wandb_session(project="p", mode="offline", dir=str(tmp_path)) as s:
        s.summary["written"] = 1
        s.summary.update(other=2)
        assert s.summary["written"] == 1 and "other" in s.summary and s.run is not None
        assert s.run.summary["other"] == 2
        with pytest.raises(KeyError):
            _ = s.summary["missing"]
        assert s.summary.get("missing", 3) == 3


def test_the_rank_is_read_when_the_session_starts_not_when_it_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    built_on_rank_1 = wandb_session(project="p", mode="offline", dir=str(tmp_path))
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    with built_on_rank_1 as s:  # started where it runs: the main process
        assert s.is_main_process and s.run is not None
    built_on_main = wandb_session(project="p", mode="offline", dir=str(tmp_path))
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with built_on_main as s:
        assert not s.is_main_process and s.run is None
