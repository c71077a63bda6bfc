"""Every SDK call point x before/after x error/KeyboardInterrupt fires in CI: one case each, at every call site.

One program, the whole life of a run on the local server: start the session, log in PRE, hand off
(``fast_path="never"``: the run is closed for a training child), train (attach, log an epoch, detach; simulated
in this process), take the run back, log in POST, end. ``PROGRAM`` is the order of its SDK calls (a test checks
that a clean run makes exactly these); each case arms one fault at one of them. The expected outcome comes from
this file's model (``expected``), never from the library's own state: the exception the program sees, whether
the run exists, how its last writer session ended, and the data invariant: every write the API accepted before
the fault is on the server afterwards. The Hypothesis machine (``test_properties.py``) plays sequences on top.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from offline_sync import run_sync, sync_command
from sdk_faults import POINTS, Fault, SdkFaults
from support import open_run, wandb_env

from wandb_ddp_bridge import attachment, wandb_session
from wandb_ddp_bridge.handoff import active_handoff
from wandb_ddp_bridge.phases import FAILED_KEY
from wandb_ddp_bridge.session import active_session

# the SDK calls of a clean program, and (lower case) where it writes: the order the model reasons on
PROGRAM = (
    "init#1",  # create the run
    "summary#1",  # the session's start marker
    "LOG pre",
    "summary#2",  # the handoff's start marker
    "finish#1",  # close the run for the training child
    "export#1",  # the handoff descriptor and WANDB_* variables
    "resume#1",  # the child attaches
    "LOG epoch",
    "finish#2",  # the child detaches
    "resume#2",  # the parent takes the run back
    "summary#3",  # the handoff's end marker
    "LOG post",
    "summary#4",  # the session's end marker
    "finish#3",  # the run ends
)
SITES = [step for step in PROGRAM if "#" in step]
CASES = [(site, when, kind) for site in SITES for when in ("before", "after") for kind in ("error", "interrupt")]


@dataclass(frozen=True)
class Expected:
    """What the model says must hold after the program met one fault."""

    run_exists: bool
    exit_code: int | None  # the run's last writer session; None: no run
    failure_recorded: bool
    written: tuple[str, ...]  # keys the API accepted before the fault: each must be on the server
    offline_copy: bool = False  # the end of the run is in an offline copy: sync it (the logged command) first


def expected(site: str, when: str, kind: str) -> Expected:
    at = PROGRAM.index(site)
    failed_code = 130 if kind == "interrupt" else 1
    written = tuple(step.split()[1] for step in PROGRAM[:at] if step.startswith("LOG"))
    if site == "init#1":
        # before: nothing was created; after: the run just created is finished failed
        return Expected(when == "after", failed_code if when == "after" else None, False, written)
    if site == "finish#3" and when == "after":
        return Expected(True, 0, False, written)  # the run had ended cleanly when the interruption came
    if site == "resume#2" and when == "before":
        if kind == "error":
            # no retry mends an error that is not the backend's: the failure goes into an offline copy
            return Expected(True, 1, True, written, offline_copy=True)
        # interrupted: the run cannot be taken back, it stays as the training child left it
        return Expected(True, 0, False, written)
    # the reason goes into the summary while the session holds the run in a phase; a start that failed, or a
    # fault in the end's own marker or finish, leaves only the exit code to say it
    recorded = site not in ("summary#1", "summary#4", "finish#3")
    return Expected(True, failed_code, recorded, written)


def _program(faults: SdkFaults, site: str | None, when: str, kind: str, tmp_path: Path) -> tuple[Any, Fault | None]:
    fault = None
    if site is not None:
        point, nth = site.split("#")
        fault = faults.arm(point, nth=int(nth), when=when, kind=kind)
    s = wandb_session(project="matrix", dir=str(tmp_path), fast_path="never", resume_grace_seconds=5)
    with s:
        s.log({"pre": 1})
        with s.handoff(), attachment.attached() as run:
            run.log({"epoch": 1})
        s.log({"post": 1})
    return s, fault


def test_the_clean_program_makes_the_calls_the_model_reasons_on(
    wandb_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = SdkFaults.install(monkeypatch)
    _program(faults, None, "before", "error", tmp_path)
    assert faults.sequence == SITES
    assert {site.split("#")[0] for site in SITES} == set(POINTS)
    [run] = wandb_server.runs()
    assert [r[key] for r in run.history for key in ("pre", "epoch", "post") if key in r] == [1, 1, 1]


@pytest.mark.parametrize(("site", "when", "kind"), CASES, ids=[f"{s}-{w}-{k}" for s, w, k in CASES])
def test_a_fault_at_every_call_site(
    wandb_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    site: str,
    when: str,
    kind: str,
) -> None:
    faults = SdkFaults.install(monkeypatch)
    env_before = wandb_env()
    want = expected(site, when, kind)
    with pytest.raises((Exception, KeyboardInterrupt)) as raised:
        _program(faults, site, when, kind, tmp_path)
    [fired] = faults.fired
    assert raised.value is fired.exc, f"{raised.value!r} replaced the fault {fired.exc!r}"
    assert active_session() is None and active_handoff() is None and open_run() is None
    assert wandb_env() == env_before
    assert len({id(f.run) for f in faults.finished}) == len(faults.finished), "a run object finished twice"
    if want.offline_copy:
        [online] = wandb_server.runs()
        run_sync(sync_command(caplog.text, online.id))
    runs = wandb_server.runs()
    if not want.run_exists:
        assert runs == []
        return
    [run] = runs
    assert run.created_count == 1 and not run.overlapping, run.sessions
    assert all(x.complete for x in run.sessions), run.sessions
    assert run.sessions[-1].exit_code == want.exit_code, run.sessions
    assert run.state == ("finished" if want.exit_code == 0 else "failed")
    assert (run.summary.get(FAILED_KEY) is True) == want.failure_recorded, run.summary
    logged = {key for row in run.history for key in row if not key.startswith("_")}
    assert set(want.written) <= logged, f"accepted before the fault, missing on the server: {want.written}"
    for key in want.written:
        assert sum(key in row for row in run.history) == 1, f"{key} recorded more than once: {run.history}"


def test_the_reliability_page_lists_every_call_site() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `") and "#" in line.split("|")[1]]
    assert [row.split("`")[1] for row in rows] == SITES, rows
