"""The parent cannot take the run back after training, for a reason no retry mends: the run was deleted on the
server, or the resume failed with an error that is not the backend's. The error propagates, and the run must not
look green: an offline copy under the same id gets the failure, and the ``wandb sync`` command the warning gives
uploads it (checked on the server's records). And the offline copy itself on a full disk: an error that names
the path."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from offline_sync import run_sync, sync_command

from wandb_ddp_bridge import _wandb, attachment, wandb_session
from wandb_ddp_bridge.errors import BackendError
from wandb_ddp_bridge.markers import FAILED_KEY, FAILURE_KEY


def test_a_run_deleted_before_the_resume_raises_and_keeps_the_failure_in_an_offline_copy(
    wandb_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session = wandb_session(project="gone", dir=str(tmp_path), fast_path="never", resume_attempts=3)
    with pytest.raises(BackendError, match="does not exist") as raised, session:
        run_id = session.id
        session.log({"pre": 1})
        with session.handoff():
            with attachment.attached() as run:
                run.log({"epoch": 1})
            wandb_server.delete_run(f"gone/{run_id}")
        session.log({"post": 1})  # never reached: leaving the handoff raised
    assert session.phase.name == "FINISHED"
    assert wandb_server.runs() == []  # deleted, and nothing retried into a second run
    assert "resume attempt 1/3 failed" not in caplog.text  # a deleted run is not retried
    command = sync_command(caplog.text, run_id)
    assert f"could not resume run {run_id!r} after training (BackendError: " in caplog.text
    run_sync(command)
    [run] = wandb_server.runs()
    assert run.id == run_id and run.state == "failed" and run.sessions[-1].exit_code == 1, run.sessions
    assert run.summary[FAILED_KEY] is True
    assert run.summary[FAILURE_KEY] == f"BackendError: {raised.value}", run.summary


def test_a_resume_error_that_is_not_the_backends_ends_the_run_failed(
    wandb_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_resume = _wandb.resume
    calls = []

    def resume(**kwargs: Any) -> Any:
        calls.append(kwargs["run_id"])
        if len(calls) == 2:  # the parent's resume, after the training child's
            raise RuntimeError("resume broke")
        return real_resume(**kwargs)

    monkeypatch.setattr(_wandb, "resume", resume)
    session = wandb_session(project="broken", dir=str(tmp_path), fast_path="never", resume_attempts=3)
    with pytest.raises(RuntimeError, match="resume broke"), session:
        run_id = session.id
        with session.handoff(), attachment.attached() as run:
            run.log({"epoch": 1})
    assert len(calls) == 2  # not retried: no retry mends an error that is not the backend's
    [before] = wandb_server.runs()
    assert before.sessions[-1].exit_code == 0  # as the training child left it: green until the copy is synced
    run_sync(sync_command(caplog.text, run_id))
    [run] = wandb_server.runs()
    assert run.id == run_id and run.created_count == 1, run.sessions
    assert run.state == "failed" and run.sessions[-1].exit_code == 1, run.sessions
    assert run.summary[FAILURE_KEY] == "RuntimeError: resume broke", run.summary
    assert [row["epoch"] for row in run.history if "epoch" in row] == [1]


def test_an_offline_copy_on_a_full_disk_fails_naming_the_path(
    wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wandb.sdk.lib import filesystem

    real_mkdir = filesystem.mkdir_exists_ok
    refused = []

    def full_disk(path: Any) -> None:  # where wandb creates the offline copy's folders: the disk is full
        if "offline-run" in str(path):
            refused.append(str(path))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_mkdir(path)

    monkeypatch.setattr(filesystem, "mkdir_exists_ok", full_disk)
    session = wandb_session(
        project="full",
        dir=str(tmp_path),
        fast_path="never",
        init_timeout=2,
        resume_attempts=1,
        on_backend_error="offline",
    )
    with pytest.raises(OSError) as raised, session, session.handoff():
        wandb_server.stop()  # the resume fails: on_backend_error="offline" wants the offline copy
    assert refused, "the offline copy was never written"
    error = raised.value
    assert error.errno == errno.ENOSPC and error.filename == refused[0], (error, refused)
    assert str(error).startswith(f"[Errno {errno.ENOSPC}] could not write the offline copy of run {session.id!r}")
    assert f"under {refused[0]}: No space left on device. Free space there" in str(error)
    assert session.phase.name == "FINISHED"
