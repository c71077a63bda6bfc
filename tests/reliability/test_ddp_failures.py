"""DDP fault tolerance: a worker dies, the parent of a DDP launch gets SIGTERM or Ctrl-C, SIGTERM in-process.

Each scenario runs a whole session (``ddp_fault_scenario.py``: PRE -> Ultralytics training -> POST) in its own
process against the local server, through Ultralytics' own DDP launcher (``torch.distributed.run``, 2 gloo
ranks on CPU, the rig of tests/ultralytics). Every process it starts carries a unique tag in its environment,
so a worker or ``wandb-core`` left behind is found even after it was re-parented away from the test.
The first two tests are quick unit checks of the pieces those scenarios rely on.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ddp_fault_scenario import HANG_LIMIT
from support import child_process_count

from wandb_ddp_bridge.integrations.ultralytics import DDPWorkerError
from wandb_ddp_bridge.integrations.ultralytics.launch import _STOP_TIMEOUT
from wandb_ddp_bridge.signals import SignalGuard, Terminated

HERE = Path(__file__).resolve().parent
UL_TESTS = HERE.parent / "ultralytics"
SCENARIO = HERE / "ddp_fault_scenario.py"
TAG_ENV = "DDP_FAULT_TAG"
TRAIN_LOSS = "train/box_loss"
PROJECT = "ddp-faults"
# no process of the session outlives it by more than the bridge gives the DDP launcher to stop its workers
GONE_WITHIN = _STOP_TIMEOUT
SIGNALLED_EPOCHS = 30  # far more than run before the signal: the signal always lands inside training


# torch.distributed.run's report (torch 2.x ChildFailedError), shortened
LAUNCHER_REPORT = """\
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
/tmp/DDP/_temp_x.py FAILED
------------------------------------------------------------
Failures:
[1]:
  rank      : 0 (local_rank: 0)
  exitcode  : 143 (pid: 101)
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-01-01_00:00:00
  host      : node1
  rank      : 3 (local_rank: 1)
  exitcode  : -9 (pid: 104)
  error_file: <N/A>
============================================================
"""


def test_ddp_worker_error_names_the_rank_that_failed_first() -> None:
    error = DDPWorkerError(1, ["python", "-m", "torch.distributed.run"], LAUNCHER_REPORT)
    assert isinstance(error, subprocess.CalledProcessError)  # what Ultralytics raised: old handlers still match
    assert (error.rank, error.local_rank, error.worker_exitcode, error.worker_pid) == (3, 1, -9, 104)
    assert str(error) == (
        "DDP worker rank 3 (local rank 1, pid 104) was killed by SIGKILL (exit code -9), "
        "so the DDP launcher exited with status 1"
    )
    unknown = DDPWorkerError(1, ["torchrun"], "no report here")
    assert unknown.rank is None
    assert str(unknown).endswith("its report of which worker failed is in the output above")


def test_signal_guard_raises_once_defers_during_a_finish_and_restores() -> None:
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    guard = SignalGuard().install()
    try:
        with pytest.raises(Terminated) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs in the main thread before this returns
        assert raised.value.code == 143 and str(raised.value) == "SIGTERM received (exit code 143)"
        os.kill(os.getpid(), signal.SIGTERM)  # the process is already unwinding: ignored
        time.sleep(0.1)
    finally:
        assert guard.restore() is None
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

    deferred = SignalGuard(signal.SIGTERM, signal.SIGINT).install()
    deferred.defer()  # e.g. while the run is being finished: remembered, raised by the caller afterwards
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.1)
    assert isinstance(deferred.restore(), KeyboardInterrupt)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    def own(signum: int, frame: Any) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, own)
    try:  # a handler of the user's (or a launcher's) is theirs: the guard takes nothing
        SignalGuard().install()
        assert signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, previous)


def _tagged(tag: str) -> list[int]:
    """Every live process whose environment carries ``tag`` (its descendants inherit it, orphans included)."""
    needle = f"{TAG_ENV}={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone meanwhile, or a zombie
            continue
    return found


@dataclass
class Outcome:
    returncode: int
    output: str
    raised: dict[str, Any]
    peak: int  # most tagged processes seen while training ran
    exit_after: float  # seconds from the signal (or the start) until the session's process ended
    gone_after: float  # seconds from the session's exit until no tagged process was left
    children: tuple[int, int]  # child processes of the test process, before and after
    logged: list[int]  # epochs global rank 0 logged
    run: Any


def _run_scenario(
    server: Any,
    tmp_path: Path,
    *,
    ddp: bool,
    epochs: int,
    fault: str | None = None,
    send: int | None = None,
    to_group: bool = False,
    restart: dict[str, Any] | None = None,
    expect_raise: bool = True,
    at_training: Callable[[], None] | None = None,
    extra_env: dict[str, str] | None = None,
    hold_at: int | None = None,
) -> Outcome:
    """Run the scenario; once the first epoch row is on the server, call ``at_training`` and ``send`` a signal
    to the session's process or (``to_group``) to its whole process group, as a terminal's Ctrl-C does.
    ``hold_at``: the DDP ranks wait at the start of that epoch, and the signal goes once the epoch before it is
    on the server, so a short training neither ends before the signal nor gets it at another epoch."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from ddp_fault_rig import EPOCH_LOG_ENV, FAULT_ENV, HOLD_ENV, recorded_epochs  # imports Ultralytics: only here

    tag = uuid.uuid4().hex
    tmp_path.mkdir(parents=True, exist_ok=True)
    epoch_log = tmp_path / "epochs.txt"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(
        YOLO_CONFIG_DIR=str(tmp_path / "yolo-config"),  # Ultralytics' temporary DDP scripts land here too
        YOLO_OFFLINE="true",
        OMP_NUM_THREADS="1",
        WANDB__FILE_STREAM_TRANSMIT_INTERVAL="1",  # rows reach the server within a second: a prompt trigger
        # releases before 8.4.140 import the trainer in the worker by module name
        PYTHONPATH=os.pathsep.join(p for p in (str(HERE), str(UL_TESTS), os.environ.get("PYTHONPATH")) if p),
        **{TAG_ENV: tag, EPOCH_LOG_ENV: str(epoch_log)},
    )
    env.update(extra_env or {})
    if fault:
        env[FAULT_ENV] = fault
    if hold_at is not None:
        env[HOLD_ENV] = str(hold_at)
    options = {
        "workdir": str(tmp_path),
        "project": PROJECT,
        "base_url": server.base_url,
        "ddp": ddp,
        "epochs": epochs,
        **(restart or {}),
    }
    children_before = child_process_count()
    assert _tagged(tag) == []
    log_path = tmp_path / "scenario.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(SCENARIO), json.dumps(options)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=to_group,
        )
    try:
        peak = 0
        signalled = started = time.monotonic()
        if send is not None or at_training is not None:
            signal_after = hold_at - 1 if hold_at else 1  # the epoch whose row must be on the server first
            peak = _wait_for_training(server, proc, log_path, tag, sessions=2 if ddp else 1, epoch=signal_after)
            if at_training is not None:
                at_training()
        if send is not None:
            if to_group:
                os.killpg(proc.pid, send)
            else:
                os.kill(proc.pid, send)
            signalled = time.monotonic()
        while proc.poll() is None:
            # a hung scenario ends itself at HANG_LIMIT (with every thread's stack in its output); this only
            # keeps a scenario that could not even do that from hanging the suite
            assert time.monotonic() - started < 2 * HANG_LIMIT, log_path.read_text(errors="replace")[-6000:]
            peak = max(peak, len(_tagged(tag)))
            time.sleep(0.2)
        returncode = proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    exited = time.monotonic()
    exit_after = exited - signalled
    while _tagged(tag) and time.monotonic() - exited < GONE_WITHIN:
        time.sleep(0.2)
    gone_after = time.monotonic() - exited
    left = _tagged(tag)
    for pid in left:  # never leave them to the next test; the assertion below still fails
        os.kill(pid, signal.SIGKILL)
    output = log_path.read_text(errors="replace")
    assert not left, f"processes left {GONE_WITHIN:.0f} s after the session ended: {left}\n{output[-4000:]}"
    raised_lines = [line for line in output.splitlines() if line.startswith("RAISED ")]
    assert bool(raised_lines) == expect_raise, output[-6000:]
    runs = server.runs()
    assert len(runs) == 1, runs
    return Outcome(
        returncode=returncode,
        output=output,
        raised=json.loads(raised_lines[-1][len("RAISED ") :]) if raised_lines else {},
        peak=peak,
        exit_after=round(exit_after, 1),
        gone_after=round(gone_after, 1),
        children=(children_before, child_process_count()),
        logged=recorded_epochs(epoch_log),
        run=runs[0],
    )


def _wait_for_training(
    server: Any, proc: subprocess.Popen[bytes], log_path: Path, tag: str, *, sessions: int, epoch: int = 1
) -> int:
    """Until the server holds the training session's row of ``epoch``; the most tagged processes seen."""
    deadline = time.monotonic() + HANG_LIMIT  # the scenario ends itself by then if it hangs
    peak = 0
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text(errors="replace")[-6000:]
        peak = max(peak, len(_tagged(tag)))
        runs = server.runs()
        rows = runs[0].history if runs and len(runs[0].sessions) >= sessions else []
        if any(TRAIN_LOSS in row and row["epoch"] >= epoch for row in rows):
            return max(peak, len(_tagged(tag)))
        time.sleep(0.2)
    pytest.fail(
        f"no row of epoch {epoch} reached the server within {HANG_LIMIT:.0f} s:\n"
        + log_path.read_text(errors="replace")[-6000:]
    )


def _assert_ended_failed(outcome: Outcome, *, exit_code: int, sessions: int) -> list[int]:
    """One run, every writer session complete and none overlapping, the last with ``exit_code``; the failure
    recorded in the summary; every epoch rank 0 logged on the server, no POST row. Returns the epochs there."""
    run = outcome.run
    detail = f"{run.sessions}\n{outcome.output[-4000:]}"
    assert run.created_count == 1 and not run.overlapping, detail
    assert len(run.sessions) == sessions, detail
    assert all(s.complete for s in run.sessions), detail
    assert run.sessions[-1].exit_code == exit_code, detail
    assert run.state == "failed", detail  # never left "running"
    assert run.summary["bridge_failed"] is True, run.summary
    assert not any("post/score" in row for row in run.history)  # POST never ran: the error reached the caller
    recorded = [row["epoch"] for row in run.history if TRAIN_LOSS in row]
    assert recorded == list(range(1, len(recorded) + 1)), recorded
    # every row rank 0 logged is on the server (a signal between its row and the test's note may add one)
    assert outcome.logged and recorded[: len(outcome.logged)] == outcome.logged, (recorded, outcome.logged)
    assert len(recorded) - len(outcome.logged) <= 1, (recorded, outcome.logged)
    assert outcome.raised["env_restored"], outcome.raised
    assert outcome.children[1] <= outcome.children[0], outcome.children
    return recorded


def _report(name: str, outcome: Outcome) -> None:
    recorded = [row["epoch"] for row in outcome.run.history if TRAIN_LOSS in row]
    print(
        f"{name}: exit status {outcome.returncode}, session exit codes {[s.exit_code for s in outcome.run.sessions]},"
        f" exit {outcome.exit_after} s after the signal/start,"
        f" processes while training {outcome.peak} -> 0 within {outcome.gone_after} s after exit,"
        f" test children {outcome.children[0]}->{outcome.children[1]},"
        f" epochs logged {len(outcome.logged)} / recorded {len(recorded)}"
    )


@pytest.mark.slow
def test_a_dead_ddp_worker_fails_h_train_naming_the_rank(wandb_server: Any, tmp_path: Path) -> None:
    # rank 1 dies without any cleanup at the start of epoch 2; rank 0 has logged epoch 1 by then
    outcome = _run_scenario(wandb_server, tmp_path, ddp=True, epochs=3, fault="1:2:3")
    _report("worker crash", outcome)
    assert outcome.peak >= 6  # parent + its wandb-core, torch.distributed.run, 2 workers, rank 0's wandb-core
    raised = outcome.raised
    assert raised["by_train"], raised  # h.train raised it, unchanged through the handoff and the session
    assert {"DDPWorkerError", "CalledProcessError", "BridgeError"} <= set(raised["classes"]), raised
    assert raised["message"].startswith("DDP worker rank 1 (local rank 1, pid "), raised
    assert "exited with code 3, so the DDP launcher exited with status 1" in raised["message"], raised
    assert outcome.returncode == 1
    assert _assert_ended_failed(outcome, exit_code=1, sessions=3) == [1]
    run = outcome.run
    # PRE, then rank 0 (stopped by the launcher, it finished its attachment as failed), then the parent's resume
    assert [(s.resume_mode, s.exit_code) for s in run.sessions] == [("none", 0), ("must", 1), ("must", 1)]
    assert run.summary["bridge_failure"] == f"DDPWorkerError: {raised['message']}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "to_group", "returncode", "exit_code", "exception"),
    [
        # SIGTERM becomes Terminated (SystemExit(143)): the process exits 143, as a shell reports a SIGTERM
        pytest.param(signal.SIGTERM, False, 143, 143, "Terminated", id="sigterm"),
        # an uncaught KeyboardInterrupt makes CPython exit by SIGINT (-2 here; a shell shows 130); the run: 130
        pytest.param(signal.SIGINT, False, -signal.SIGINT, 130, "KeyboardInterrupt", id="sigint"),
        # a terminal's Ctrl-C: the launcher gets SIGINT from the terminal and again from the parent
        pytest.param(signal.SIGINT, True, -signal.SIGINT, 130, "KeyboardInterrupt", id="sigint-group"),
        # a scheduler's stop (kill -TERM -<pgid>): the launcher and every worker get SIGTERM at once
        pytest.param(signal.SIGTERM, True, 143, 143, "Terminated", id="sigterm-group"),
    ],
)
def test_a_signal_to_the_parent_of_a_ddp_launch_stops_everything(
    wandb_server: Any, tmp_path: Path, sig: int, to_group: bool, returncode: int, exit_code: int, exception: str
) -> None:
    outcome = _run_scenario(wandb_server, tmp_path, ddp=True, epochs=SIGNALLED_EPOCHS, send=sig, to_group=to_group)
    _report(f"{signal.Signals(sig).name} to the DDP parent" + ("'s process group" if to_group else ""), outcome)
    assert outcome.raised["type"] == exception and outcome.raised["by_train"], outcome.raised
    assert outcome.returncode == returncode, outcome.output[-4000:]
    # parent + its wandb-core, torch.distributed.run, 2 workers, rank 0's wandb-core (+ its system monitor)
    assert outcome.peak >= 6
    _assert_ended_failed(outcome, exit_code=exit_code, sessions=3)
    # rank 0 was stopped by the launcher and still finished its attachment (flushed, exit code 1)
    assert [(s.resume_mode, s.exit_code) for s in outcome.run.sessions] == [
        ("none", 0),
        ("must", 1),
        ("must", exit_code),
    ]
    assert "stopping the DDP workers" in outcome.output


@pytest.mark.slow
def test_sigterm_during_in_process_training_ends_the_run_failed(wandb_server: Any, tmp_path: Path) -> None:
    outcome = _run_scenario(wandb_server, tmp_path, ddp=False, epochs=SIGNALLED_EPOCHS, send=signal.SIGTERM)
    _report("SIGTERM in-process", outcome)
    # a preemption: training stops once the epoch under way is saved (or its grace period ends), then the
    # attempt ends with Preempted, a Terminated (SystemExit 143)
    assert outcome.raised["type"] == "Preempted" and outcome.raised["by_train"], outcome.raised
    assert "Terminated" in outcome.raised["classes"], outcome.raised
    assert outcome.raised["message"] == "SIGTERM received: preempted (exit code 143)"
    assert outcome.returncode == 143
    # the in-process fast path keeps the run open across the handoff: one writer session, ended with 143
    _assert_ended_failed(outcome, exit_code=143, sessions=1)
    assert outcome.run.summary["bridge_failure"] == "Preempted: SIGTERM received: preempted (exit code 143)"
    assert outcome.run.sessions[0].preempting  # marked preempting before it ended


@pytest.mark.slow
def test_a_ddp_training_preempted_by_sigterm_resumes_into_the_same_run(wandb_server: Any, tmp_path: Path) -> None:
    """Issue 14 through the DDP launcher: attempt 1 gets SIGTERM (to the parent) mid-training, attempt 2 (a new
    process) resumes last.pt with the same run_id: one run, every epoch once, no process left by either."""
    restart = {"run_id": "ddp-restart"}
    first = _run_scenario(
        wandb_server, tmp_path / "a1", ddp=True, epochs=3, send=signal.SIGTERM, restart=restart, hold_at=3
    )
    _report("attempt 1 (SIGTERM to the DDP parent)", first)
    assert first.returncode == 143 and first.raised["type"] == "Terminated", first.raised
    before = [row["epoch"] for row in first.run.history if TRAIN_LOSS in row]
    assert before == [1, 2], before  # the ranks held at epoch 3's start for the signal
    last = tmp_path / "a1" / "runs" / "train" / "weights" / "last.pt"
    second = _run_scenario(
        wandb_server, tmp_path / "a2", ddp=True, epochs=3, expect_raise=False, restart={**restart, "resume": str(last)}
    )
    _report("attempt 2 (resumed)", second)
    assert second.returncode == 0, second.output[-4000:]
    run = second.run
    assert (run.id, run.created_count, run.resumed_count > 0) == ("ddp-restart", 1, True)
    assert run.state == "finished" and run.sessions[-1].exit_code == 0
    assert not run.overlapping and all(s.complete for s in run.sessions)
    epochs = [row["epoch"] for row in run.history if TRAIN_LOSS in row]
    assert epochs == [1, 2, 3], epochs  # every epoch exactly once, in order, across both attempts
    assert second.logged == [3], second.logged  # attempt 2 trained only the epoch after last.pt
    steps = [row["_step"] for row in run.history]
    assert steps == sorted(set(steps))
    assert "post/score" in run.history[-1]
    outcomes = [(a["attempt"], a["outcome"]) for a in run.summary["bridge_attempts"]]
    assert outcomes == [(1, "preempted"), (2, "finished")], outcomes


@pytest.mark.slow
def test_a_preempted_ddp_training_restarts_from_the_runs_checkpoint_on_a_fresh_node(
    wandb_server: Any, tmp_path: Path
) -> None:
    """Issue 21's "done when" through the DDP launcher: the rank-0 worker uploads each epoch's last.pt; SIGTERM
    after epoch 2 of 3 leaves the run's ``latest`` at epoch 2; attempt 2, without attempt 1's directory, resumes
    it and trains only epoch 3: one finished run, epochs 1..3 once each."""
    restart = {"run_id": "ddp-ckpt", "checkpoints": "wandb", "checkpoint_keep": 4}  # the used version stays
    first = _run_scenario(
        wandb_server, tmp_path / "a1", ddp=True, epochs=3, send=signal.SIGTERM, restart=restart, hold_at=3
    )
    _report("attempt 1 (SIGTERM to the DDP parent, checkpoints)", first)
    assert first.returncode == 143, first.output[-4000:]
    before = [row["epoch"] for row in first.run.history if TRAIN_LOSS in row]
    assert before == [1, 2], before  # the ranks held at epoch 3's start for the signal
    latest = [a for a in first.run.artifacts if a.name == "checkpoint-ddp-ckpt" and "latest" in a.aliases]
    assert [a.metadata["epoch"] for a in latest] == [2], "the newest saved last.pt went up"
    shutil.rmtree(tmp_path / "a1")
    second = _run_scenario(
        wandb_server, tmp_path / "a2", ddp=True, epochs=3, expect_raise=False, restart={**restart, "resume": "run"}
    )
    _report("attempt 2 (resumed from the run's checkpoint)", second)
    assert second.returncode == 0, second.output[-4000:]
    run = second.run
    assert [row["epoch"] for row in run.history if TRAIN_LOSS in row] == [1, 2, 3]
    assert run.state == "finished" and run.created_count == 1
    assert second.logged == [3], second.logged  # attempt 2 trained only epoch 3
    used = [a for a in run.artifacts if a.name == "checkpoint-ddp-ckpt" and run.path in a.used_by]
    assert [a.metadata["epoch"] for a in used] == [2], "attempt 2 used the run's latest checkpoint"


@pytest.mark.slow
def test_rank_0_killed_mid_epoch_fails_the_run_and_a_restart_continues_it(wandb_server: Any, tmp_path: Path) -> None:
    """Rank 0 (the one writing the run) gets SIGKILL after its first batch of epoch 2: no cleanup at all. The
    launcher stops rank 1, ``h.train`` raises, the parent ends the run failed; a restart with the same run_id
    from last.pt trains epoch 2 into the same run: every epoch once."""
    restart = {"run_id": "rank0-killed"}
    first = _run_scenario(wandb_server, tmp_path / "a1", ddp=True, epochs=2, fault="0:2:-9:mid", restart=restart)
    _report("rank 0 SIGKILLed mid-epoch", first)
    raised = first.raised
    assert raised["by_train"] and "DDPWorkerError" in raised["classes"], raised
    assert raised["message"].startswith("DDP worker rank 0 (local rank 0, pid "), raised
    assert "was killed by SIGKILL (exit code -9), so the DDP launcher exited with status 1" in raised["message"]
    assert first.returncode == 1
    run = first.run
    assert run.created_count == 1 and run.state == "failed", run.sessions
    # PRE; rank 0's attachment, never finished (no cleanup at all); the parent's resume, which ends it failed
    # (PRE's resume mode is "allow": a run_id names a run that may exist already)
    assert [(s.resume_mode, s.exit_code) for s in run.sessions] == [("allow", 0), ("must", None), ("must", 1)]
    assert run.sessions[-1].complete, run.sessions
    assert run.summary["bridge_failure"] == f"DDPWorkerError: {raised['message']}"
    assert not any("post/score" in row for row in run.history)
    before = [row["epoch"] for row in run.history if TRAIN_LOSS in row]
    # a prefix of what rank 0 logged: a row its wandb-core had not sent yet dies with it (the finding in
    # docs/reliability.md); epoch 2 never got to its row
    assert first.logged == [1] and before == first.logged[: len(before)], (before, first.logged)

    last = tmp_path / "a1" / "runs" / "train" / "weights" / "last.pt"
    second = _run_scenario(
        wandb_server, tmp_path / "a2", ddp=True, epochs=2, expect_raise=False, restart={**restart, "resume": str(last)}
    )
    _report("restart after rank 0 was killed", second)
    assert second.returncode == 0, second.output[-4000:]
    run = second.run
    assert (run.id, run.created_count, run.state) == ("rank0-killed", 1, "finished"), run.sessions
    assert run.sessions[-1].exit_code == 0 and not run.overlapping
    # the restart trains epoch 2 from last.pt (epoch 1's checkpoint): no epoch twice, none after a gap
    assert [row["epoch"] for row in run.history if TRAIN_LOSS in row] == [*before, 2]
    assert "post/score" in run.history[-1]
    outcomes = [(a["attempt"], a["outcome"]) for a in run.summary["bridge_attempts"]]
    assert outcomes == [(1, "failed"), (2, "finished")], outcomes


OUTAGE_SECONDS = 25.0


@pytest.mark.slow
def test_a_backend_outage_during_ddp_training_loses_no_epoch(wandb_server: Any, tmp_path: Path) -> None:
    """Every request gets 503 for 25 s, from the first epoch row on: the training rank's client retries (wait
    at most 2 s between tries), every epoch lands once, and the parent's resume after training still works."""
    epochs = 4
    window: list[float] = []

    def outage() -> None:
        window.append(time.time())
        wandb_server.faults.outage(OUTAGE_SECONDS)

    retry_env = {
        "WANDB__FILE_STREAM_RETRY_WAIT_MIN_SECONDS": "1",
        "WANDB__FILE_STREAM_RETRY_WAIT_MAX_SECONDS": "2",
        "WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS": "1",
        "WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS": "2",
    }
    outcome = _run_scenario(
        wandb_server, tmp_path, ddp=True, epochs=epochs, at_training=outage, extra_env=retry_env, expect_raise=False
    )
    _report("backend outage during DDP training", outcome)
    assert outcome.returncode == 0, outcome.output[-4000:]
    run = outcome.run
    assert run.created_count == 1 and not run.overlapping and run.state == "finished", run.sessions
    assert [(s.resume_mode, s.exit_code) for s in run.sessions] == [("none", 0), ("must", 0), ("must", 0)]
    assert [row["epoch"] for row in run.history if TRAIN_LOSS in row] == list(range(1, epochs + 1))
    # what rank 0 logged (the final validation notes one more, past the last epoch: nothing is logged there)
    assert outcome.logged[:epochs] == list(range(1, epochs + 1)), outcome.logged
    assert "post/score" in run.history[-1]  # post-training resumed after the outage
    # the outage overlapped training: requests were refused, and the training rank's stream reached the server
    # after it ended (the server's own request times)
    down = window[0]
    up = down + OUTAGE_SECONDS
    refused = [r for r in wandb_server.requests if r.fault and down <= r.time <= up]
    assert refused, "no request met the outage"
    streamed = [r.time for r in wandb_server.requests if r.operation == "file_stream" and not r.fault]
    assert any(t > up for t in streamed), (streamed, down)
