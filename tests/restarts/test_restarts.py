"""Attempt bookkeeping, config merging and the run record next to checkpoints (issue 14), without a backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wandb_ddp_bridge.errors import ConfigError
from wandb_ddp_bridge.restarts import (
    ATTEMPTS_KEY,
    RUN_RECORD_NAME,
    find_run_record,
    next_attempt,
    split_config_update,
    update_attempt,
    write_run_record,
)


def test_attempts_are_numbered_from_what_the_run_recorded() -> None:
    assert next_attempt({}) == 1
    summary = {ATTEMPTS_KEY: update_attempt({}, 1, started=1.0)}
    assert next_attempt(summary) == 2
    summary[ATTEMPTS_KEY] = update_attempt(summary, 1, ended=2.0, outcome="preempted")
    assert summary[ATTEMPTS_KEY] == [{"attempt": 1, "started": 1.0, "ended": 2.0, "outcome": "preempted"}]
    summary[ATTEMPTS_KEY] = update_attempt(summary, 2, started=3.0)
    assert [a["attempt"] for a in summary[ATTEMPTS_KEY]] == [1, 2] and next_attempt(summary) == 3


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
configs = st.dictionaries(st.text(max_size=4), values, max_size=5)


@given(configs, configs)
def test_a_continued_run_never_has_a_stored_value_overwritten(existing: dict, update: dict) -> None:
    safe, changed = split_config_update(existing, update)
    assert set(safe) | set(changed) == set(update) and not set(safe) & set(changed)
    merged = {**existing, **safe}
    for key, value in existing.items():
        assert merged[key] == value  # what an earlier attempt stored is kept
    for key in changed:
        assert key in existing and existing[key] != update[key]


def test_the_run_record_is_found_from_the_checkpoint_file(tmp_path: Path) -> None:
    save_dir = tmp_path / "runs" / "detect" / "train"
    (save_dir / "weights").mkdir(parents=True)
    (save_dir / "weights" / "last.pt").write_bytes(b"x")
    assert find_run_record(save_dir / "weights" / "last.pt") is None
    written = write_run_record(save_dir, run_id="abc", project="p", entity="team")
    assert written.name == RUN_RECORD_NAME
    record = find_run_record(save_dir / "weights" / "last.pt")
    assert record is not None and (record.run_id, record.project, record.entity) == ("abc", "p", "team")
    assert record.where == "team/p/abc"
    assert find_run_record(tmp_path) is None  # records are looked for next to the checkpoint, not below it


def test_an_unreadable_record_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / RUN_RECORD_NAME).write_text("{not json")
    with pytest.raises(ConfigError, match="delete it to start a new run"):
        find_run_record(tmp_path / "last.pt")
