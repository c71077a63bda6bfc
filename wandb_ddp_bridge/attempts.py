"""This process's attempt at a run: which run it opens, how it ends, and what it records in the run's summary.

The session owns the run; this module holds the bookkeeping the session would otherwise interleave with its
phase machine: the run identity to create or continue (``run_id``, ``"auto"``, or the run record next to
``resume_from``), the exit code and outcome an ending block gives the run, and the summary values one
transition writes (phase markers and this attempt's entry in ``bridge_attempts``), computed in one place so
every transition writes them the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from . import _log
from .artifacts.redact import Redactor
from .config import BridgeConfig
from .errors import ConfigError
from .markers import FAILED_KEY, FAILURE_KEY, MARKERS_KEY, marker, parse_marker
from .restarts import ATTEMPTS_KEY, RUN_RECORD_NAME, find_run_record, next_attempt, update_attempt
from .run_ids import RunIdentity, resolve_run_id

__all__ = ["AttemptLog", "exit_code_for", "failed_code", "outcome_of", "run_identity"]


def exit_code_for(exc: BaseException | None) -> int:
    """The process-style exit code a run should end with when ``exc`` ended its block."""
    if exc is None:
        return 0
    if isinstance(exc, SystemExit):
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(exc, KeyboardInterrupt):
        return 130
    return 1


def failed_code(errors: list[BaseException]) -> int:
    """The exit code a run ends with when these cleanup errors happened (0: none)."""
    return max(1, exit_code_for(errors[0])) if errors else 0


def outcome_of(exc: BaseException | None, exit_code: int) -> str:
    """How an attempt ended, for the run's attempt record: finished, preempted, interrupted or failed."""
    if exit_code == 0:
        return "finished"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, SystemExit) and exit_code > 128:  # ended by a signal (Terminated, Preempted)
        return "preempted"
    return "failed"


def run_identity(config: BridgeConfig) -> RunIdentity | None:
    """The run to create or continue: ``run_id`` (explicit or ``"auto"``), or the run recorded next to
    ``resume_from``'s checkpoint; ``None`` for a new run with a fresh id. Conflicts are refused, naming both."""
    identity = resolve_run_id(
        config.run_id, project=config.project, entity=config.entity, identity_env=config.job_identity_env
    )
    if config.resume_from is None:
        return identity
    record = find_run_record(config.resume_from)
    if record is None:
        raise ConfigError(
            f"resume_from={config.resume_from!r}: no run record ({RUN_RECORD_NAME}) next to that checkpoint, "
            "so its run is unknown (was it trained through the bridge?). Pass run_id= to name the run to "
            "continue, or drop resume_from to start a new run."
        )
    if record.project != config.project or (config.entity and record.entity and record.entity != config.entity):
        raise ConfigError(
            f"resume_from={config.resume_from!r} belongs to run {record.where}, but this session's project is "
            f"{config.entity + '/' if config.entity else ''}{config.project}: a run id in another project is a "
            f"different run. Set project={record.project!r} to continue it."
        )
    if identity is not None and identity.run_id != record.run_id:
        raise ConfigError(
            f"run_id {identity.run_id!r} (from the {identity.source}) conflicts with run {record.run_id!r} "
            f"recorded next to resume_from={config.resume_from!r} ({record.path}); pass one of them"
        )
    return RunIdentity(run_id=record.run_id, source=f"run record {record.path}")


class AttemptLog:
    """Phase-boundary times and this attempt's record, as the summary values each transition writes."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        #: this process's attempt at the run (> 1: the run was continued after a restart)
        self.number = 1
        #: what failure text goes through before the summary gets it (the session's: it knows its secrets)
        self._redactor = redactor if redactor is not None else Redactor()
        self._before: list[dict[str, Any]] = []
        self._fields: dict[str, Any] = {}
        self._markers: dict[str, float] = {}

    def reset(self) -> None:
        """Forget the markers (a failed start is undone: the next start begins again)."""
        self._markers = {}

    def begin(self, run: Any, identity: RunIdentity | None, project: str) -> None:
        """Number this attempt (a continued run counts the attempts before it) and say what happened."""
        self._fields = {"started": time.time()}
        if identity is None:
            return
        if getattr(run, "resumed", False):
            summary: Any = run.summary
            before = summary.get(ATTEMPTS_KEY)
            self._before = [dict(a) for a in before or () if isinstance(a, Mapping)]
            self.number = next_attempt({ATTEMPTS_KEY: self._before})
            _log.warning("continuing run %s (attempt %s; id from the %s)", run.id, self.number, identity.source)
        else:
            say = _log.debug if identity.assigned else _log.warning  # every sweep trial creates its run
            say(
                "created run %s in %s (id from the %s; no run with this id existed in this project yet)",
                run.id,
                project,
                identity.source,
            )

    def end(self, exit_code: int, outcome: str) -> None:
        """How the attempt ended; written with the next (final) marker."""
        self._fields.update(ended=time.time(), exit_code=exit_code, outcome=outcome)

    def mark(self, *keys: str, failure: BaseException | None = None) -> dict[str, Any]:
        """Record the phase boundaries ``keys`` now; the summary values to write (one write per transition:
        summary writes never advance the history step). A boundary that ends a phase also gets its duration."""
        now = time.time()
        for key in keys:
            self._markers[key] = now
            parsed = parse_marker(key)
            if parsed is not None and parsed[2] == "end":
                started = self._markers.get(marker(parsed[0], parsed[1], "start"))
                if started is not None:
                    self._markers[marker(parsed[0], parsed[1], "seconds")] = round(now - started, 3)
        values: dict[str, Any] = {MARKERS_KEY: dict(self._markers)}
        values[ATTEMPTS_KEY] = update_attempt(
            {ATTEMPTS_KEY: self._before}, self.number, **self._fields, phases=dict(self._markers)
        )
        if failure is not None:
            values.update({FAILED_KEY: True, FAILURE_KEY: self._redactor.failure(failure)[:1000]})
        return values
