"""One run across restarts: attempt bookkeeping, config merging, and the run record kept next to checkpoints.

A job that is preempted and restarted continues its run (``run_id`` set, derived with ``"auto"``, or read from
the record next to the checkpoint it resumes). Each process that opens the run is an *attempt*; the run's
summary keeps one entry per attempt (``bridge_attempts``) so the run shows its restarts, and an attempt never
silently overwrites a config value an earlier attempt stored: a changed value goes under the attempt instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "ATTEMPTS_KEY",
    "RUN_RECORD_NAME",
    "ContinuedRun",
    "GuardedConfig",
    "RunRecord",
    "attempt_config_key",
    "find_run_record",
    "next_attempt",
    "split_config_update",
    "update_attempt",
    "write_run_record",
]

#: Summary key: a list with one dict per attempt (number, started, ended, outcome, exit_code).
ATTEMPTS_KEY = "bridge_attempts"
#: The file the bridge writes next to a training's checkpoints (Ultralytics: its ``save_dir``).
RUN_RECORD_NAME = "wandb_ddp_bridge.json"
_RECORD_VERSION = 1
# weights/last.pt -> weights/ -> save_dir/: where a record may sit relative to a checkpoint file
_RECORD_SEARCH_DEPTH = 3


def next_attempt(summary: Mapping[str, Any]) -> int:
    """The number of the attempt about to start, from what earlier attempts recorded in ``summary``."""
    attempts = summary.get(ATTEMPTS_KEY)
    if isinstance(attempts, (list, tuple)) and attempts:
        numbers = [a.get("attempt") for a in attempts if isinstance(a, Mapping)]
        return max((n for n in numbers if isinstance(n, int)), default=len(attempts)) + 1
    return 1


def update_attempt(summary: Mapping[str, Any], number: int, **fields: Any) -> list[dict[str, Any]]:
    """The attempts list with attempt ``number`` created or updated with ``fields`` (a new list: write it back)."""
    attempts = [dict(a) for a in summary.get(ATTEMPTS_KEY) or () if isinstance(a, Mapping)]
    for entry in attempts:
        if entry.get("attempt") == number:
            entry.update(fields)
            return attempts
    attempts.append({"attempt": number, **fields})
    return attempts


def attempt_config_key(number: int) -> str:
    """Where attempt ``number`` keeps the config values that differ from what the run already holds."""
    return f"bridge_attempt_{number}"


def split_config_update(
    existing: Mapping[str, Any], update: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(safe, changed)``: keys new to the run or with the same value, and keys whose value would change.

    A continued run keeps what earlier attempts stored; ``changed`` is recorded under
    :func:`attempt_config_key` so the difference is visible, never silently applied.
    """
    safe: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for key, value in update.items():
        if key not in existing or _same(existing[key], value):
            safe[key] = value
        else:
            changed[key] = value
    return safe, changed


def _same(old: Any, new: Any) -> bool:
    try:
        return bool(json.dumps(old, sort_keys=True, default=str) == json.dumps(new, sort_keys=True, default=str))
    except (TypeError, ValueError):
        return bool(old == new)


@dataclass(frozen=True)
class RunRecord:
    """Which run a training's checkpoints belong to."""

    run_id: str
    project: str
    entity: str | None = None
    path: str | None = None  # the file it was read from (not written)

    @property
    def where(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}" if self.entity else f"{self.project}/{self.run_id}"


def write_run_record(directory: str | os.PathLike[str], *, run_id: str, project: str, entity: str | None) -> Path:
    """Write the record into ``directory`` (atomically: a half-written record is never read)."""
    target = Path(directory) / RUN_RECORD_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    body = {"version": _RECORD_VERSION, "run_id": run_id, "project": project, "entity": entity}
    temporary = target.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target


def find_run_record(checkpoint: str | os.PathLike[str]) -> RunRecord | None:
    """The record for ``checkpoint`` (a file such as ``save_dir/weights/last.pt``, or a directory), searching
    its folder and the folders above it (up to the training's ``save_dir``); ``None`` if there is none."""
    start = Path(checkpoint)
    folder = start if start.is_dir() else start.parent
    for candidate in [folder, *folder.parents][:_RECORD_SEARCH_DEPTH]:
        path = candidate / RUN_RECORD_NAME
        if path.is_file():
            return _read(path)
    return None


def _read(path: Path) -> RunRecord:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return RunRecord(
            run_id=str(body["run_id"]), project=str(body["project"]), entity=body.get("entity"), path=str(path)
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"the run record {path} next to the checkpoint is unreadable ({exc!r}); delete it to start a new run, "
            "or pass run_id= to name the run to continue"
        ) from None


class GuardedConfig:
    """``run.config`` of a continued run: a key an earlier attempt stored keeps its value; a different value
    from this attempt is kept under :func:`attempt_config_key` instead (and said once), never overwriting."""

    def __init__(self, config: Any, attempt: int) -> None:
        self._config = config
        self._attempt = attempt

    def update(self, values: Mapping[str, Any], allow_val_change: bool = False) -> None:
        safe, changed = split_config_update(self._config, dict(values))
        if safe:
            self._config.update(safe, allow_val_change=True)
        if changed:
            key = attempt_config_key(self._attempt)
            previous = self._config.get(key) if key in self._config else None
            kept = {**(dict(previous) if isinstance(previous, Mapping) else {}), **changed}
            self._config.update({key: kept}, allow_val_change=True)
            from . import _log

            _log.warn_once(
                f"attempt {self._attempt} changes config {sorted(changed)} that an earlier attempt of this run "
                f"stored; the earlier values are kept, this attempt's are under config[{key!r}]"
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)

    def __getitem__(self, key: str) -> Any:
        return self._config[key]

    def __contains__(self, key: object) -> bool:
        return key in self._config

    def get(self, key: str, default: Any = None) -> Any:
        return self._config.get(key, default)


class ContinuedRun:
    """A continued run as the session's writers see it: the same run, with a :class:`GuardedConfig`."""

    def __init__(self, run: Any, attempt: int) -> None:
        self._run = run
        self.config = GuardedConfig(run.config, attempt)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)
