"""Warnings that would repeat every epoch are logged once per session, and again in the next session of the
same process (a sweep agent runs its trials one after another in one process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wandb_ddp_bridge import _log, wandb_session


def _said(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


def test_a_repeated_warning_is_logged_once_per_session(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level("WARNING", logger=_log.LOGGER_NAME)
    for trial in range(2):
        with wandb_session(project="warnings", mode="disabled", dir=str(tmp_path)):
            for _epoch in range(3):
                _log.warn_once("checkpoint upload failed: bucket gone")
        assert _said(caplog, "checkpoint upload failed: bucket gone") == trial + 1
