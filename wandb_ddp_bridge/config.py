"""BridgeConfig: everything the bridge needs to create, hand off and resume one W&B run.

Built from keyword arguments, a mapping, or a nested application config with a ``wandb`` section
(OmegaConf/Hydra ``DictConfig``, dataclass, ``SimpleNamespace``), with the usual ``WANDB_*`` environment
variables as fallbacks. Validation errors name the field, the offending value and where it was looked for;
the API key is never part of ``repr`` or of any message.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ConfigError

__all__ = ["BridgeConfig", "Devices", "Mode"]

Mode = Literal["online", "offline", "disabled"]
#: ``None`` (let Ultralytics choose), a tuple of GPU ids, or a device string such as ``"cpu"``.
Devices = tuple[int, ...] | str | None

_ENV_FALLBACKS = {
    "project": "WANDB_PROJECT",
    "entity": "WANDB_ENTITY",
    "api_key": "WANDB_API_KEY",
    "mode": "WANDB_MODE",
    "base_url": "WANDB_BASE_URL",
    "dir": "WANDB_DIR",
}
# wandb itself accepts these historical spellings of the mode.
_MODE_ALIASES = {"online": "online", "run": "online", "offline": "offline", "dryrun": "offline",
                 "disabled": "disabled"}
_FORBIDDEN_NAME_CHARS = re.compile(r"[/\\#?%:]")
_DEVICE_STRINGS = re.compile(r"^(cpu|mps|cuda|cuda:\d+)$")


@dataclass(frozen=True)
class BridgeConfig:
    """Validated settings of one bridged run. Build it with :meth:`BridgeConfig.resolve`."""

    project: str
    entity: str | None = None
    name: str | None = None
    group: str | None = None
    job_type: str = "training"
    tags: tuple[str, ...] = ()
    notes: str | None = None
    mode: Mode = "online"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False, compare=False)
    devices: Devices = None
    dir: str | None = None
    #: Seconds ``wandb.init`` may take (new run and resume) before it fails.
    init_timeout: float = 90.0
    #: Attempts to resume the run after training before giving up (backoff doubles from 1 s).
    resume_attempts: int = 3
    #: After a signal (SIGTERM, Ctrl-C) the post-training resume gets this many seconds in all, counted from the
    #: signal (a preemption's stop included), then it is abandoned and the run's end is recorded in a local
    #: offline copy: schedulers SIGKILL ~30 s after SIGTERM. No single resume attempt waits longer either.
    resume_grace_seconds: float = 20.0
    #: ``"auto"`` keeps the run open when training runs in this very process; ``"never"`` always
    #: finishes and resumes (the behaviour of the hand-written recipe).
    fast_path: Literal["auto", "never"] = "auto"
    #: What to do when the backend is unreachable at session start or at resume.
    on_backend_error: Literal["raise", "offline"] = "raise"
    #: The run to create or continue: an id, ``"auto"`` (derived from the scheduler's job identity, see
    #: ``run_ids``), or ``None`` for a new run. Never read from ``WANDB_RUN_ID`` (stale ids leak between jobs).
    run_id: str | None = None
    #: With ``run_id="auto"``: the environment variable holding your job's identity (e.g. a Kubernetes Job name).
    job_identity_env: str | None = None
    #: A checkpoint (e.g. Ultralytics' ``weights/last.pt``) whose run this session continues: the bridge
    #: recorded the run next to it when that training started.
    resume_from: str | None = None
    #: Signals that mean "this job is being preempted" while training runs in this process (by name).
    preemption_signals: tuple[str, ...] = ("SIGTERM",)
    #: After a preemption signal, training gets this long to finish its step and save before it is cut off;
    #: part of ``resume_grace_seconds``, so it must be smaller (default: half of it).
    preemption_grace_seconds: float = 10.0

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def resolve(cls, cfg: Any = None, /, **overrides: Any) -> BridgeConfig:
        """Build a config from ``cfg`` (see module doc), then ``overrides``, then the environment."""
        if isinstance(cfg, BridgeConfig) and not overrides:
            return cfg
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        section, label = _find_section(cfg)
        known = set(cls.field_names())
        for key, value in section.items():
            if key not in known:
                continue  # application sections carry keys of their own (e.g. ``enabled``); not ours
            if value is not None:
                values[key] = value
                sources[key] = f"{label}.{key}"
        for key, value in overrides.items():
            if key not in known:
                raise ConfigError(
                    f"unknown setting {key!r} given as a keyword argument; "
                    f"known settings are: {', '.join(sorted(known))}"
                )
            if value is not None:
                values[key] = value
                sources[key] = "keyword argument"
        for key, var in _ENV_FALLBACKS.items():
            if key not in values and os.environ.get(var):
                values[key] = os.environ[var]
                sources[key] = f"${var}"
        return cls._validated(values, sources, label)

    @classmethod
    def _validated(cls, values: dict[str, Any], sources: dict[str, str], label: str) -> BridgeConfig:
        def where(key: str) -> str:
            return sources.get(key, "default")

        project = values.get("project")
        if not project:
            looked = "keyword argument project=" + (f", {label}.project" if label else "")
            raise ConfigError(
                f"no W&B project configured: looked in {looked} and $WANDB_PROJECT. "
                "Pass project='my-project' or set WANDB_PROJECT."
            )
        for key in ("project", "entity"):
            if key in values:
                text = values[key]
                if not isinstance(text, str) or _FORBIDDEN_NAME_CHARS.search(text):
                    raise ConfigError(
                        f"{key}={text!r} (from {where(key)}) is not a valid W&B {key} name: "
                        "it must be a string without any of / \\ # ? % :"
                    )
        mode_raw = str(values.get("mode", "online")).strip().lower()
        if mode_raw not in _MODE_ALIASES:
            raise ConfigError(
                f"mode={values.get('mode')!r} (from {where('mode')}) is not a W&B mode; "
                "use 'online', 'offline' or 'disabled'"
            )
        values["mode"] = _MODE_ALIASES[mode_raw]
        if "devices" in values:
            values["devices"] = _parse_devices(values["devices"], where("devices"))
        if "tags" in values:
            values["tags"] = _parse_tags(values["tags"], where("tags"))
        if "base_url" in values:
            values["base_url"] = str(values["base_url"]).rstrip("/")
            if not re.match(r"^https?://", values["base_url"]):
                raise ConfigError(
                    f"base_url={values['base_url']!r} (from {where('base_url')}) must start with "
                    "http:// or https://"
                )
        for key in ("init_timeout", "resume_grace_seconds", "preemption_grace_seconds"):
            if key in values:
                values[key] = _positive_number(key, values[key], where(key))
        if "resume_attempts" in values:
            attempts = values["resume_attempts"]
            if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
                raise ConfigError(
                    f"resume_attempts={attempts!r} (from {where('resume_attempts')}) must be an integer >= 1"
                )
        for key, allowed in (("fast_path", ("auto", "never")), ("on_backend_error", ("raise", "offline"))):
            if key in values and values[key] not in allowed:
                raise ConfigError(
                    f"{key}={values[key]!r} (from {where(key)}) must be one of {', '.join(allowed)}"
                )
        if "run_id" in values:
            from .run_ids import AUTO, validate_run_id

            if values["run_id"] != AUTO:
                validate_run_id(values["run_id"], where=f"run_id (from {where('run_id')})")
        if "preemption_signals" in values:
            values["preemption_signals"] = _parse_signals(values["preemption_signals"], where("preemption_signals"))
        if "resume_from" in values and isinstance(values["resume_from"], os.PathLike):
            values["resume_from"] = os.fspath(values["resume_from"])
        for key in ("entity", "name", "group", "job_type", "notes", "dir", "api_key", "job_identity_env",
                    "resume_from"):
            if key in values and not isinstance(values[key], str):
                shown = "<hidden>" if key == "api_key" else repr(values[key])
                raise ConfigError(f"{key}={shown} (from {where(key)}) must be a string")
        if "preemption_grace_seconds" not in values and "resume_grace_seconds" in values:
            values["preemption_grace_seconds"] = values["resume_grace_seconds"] / 2  # the default: half of it
        config = cls(**values)
        if config.preemption_grace_seconds >= config.resume_grace_seconds:
            raise ConfigError(
                f"preemption_grace_seconds={config.preemption_grace_seconds:g} (from "
                f"{where('preemption_grace_seconds')}) leaves no time to record how the attempt ended: everything "
                f"after a preemption signal, stopping training and taking the run back, must fit in "
                f"resume_grace_seconds={config.resume_grace_seconds:g} (from {where('resume_grace_seconds')}). "
                "Set resume_grace_seconds above preemption_grace_seconds and below your scheduler's kill delay."
            )
        return config

    def describe(self) -> str:
        """One line for logs and reports (no secrets)."""
        where = f"{self.entity}/{self.project}" if self.entity else self.project
        return f"{where} mode={self.mode} base_url={self.base_url or 'default'} devices={self.devices!r}"


def _find_section(cfg: Any) -> tuple[Mapping[str, Any], str]:
    """Return the mapping that holds the W&B settings and a label saying where it came from."""
    if cfg is None:
        return {}, ""
    if isinstance(cfg, BridgeConfig):
        return {f: getattr(cfg, f) for f in BridgeConfig.field_names()}, "BridgeConfig"
    nested = _get(cfg, "wandb")
    if nested is not None:
        return _as_mapping(nested, "cfg.wandb"), "cfg.wandb"
    return _as_mapping(cfg, "cfg"), "cfg"


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping) or _is_mapping_like(obj):
        try:
            return obj[key] if key in obj else None
        except Exception:  # OmegaConf raises on missing mandatory values; treat as absent here
            return None
    if dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        return getattr(obj, key, None)
    return None


def _is_mapping_like(obj: Any) -> bool:
    return hasattr(obj, "keys") and hasattr(obj, "__getitem__")


def _as_mapping(obj: Any, label: str) -> Mapping[str, Any]:
    if isinstance(obj, Mapping) or _is_mapping_like(obj):
        from .artifacts.redact import plain

        return {str(k): plain(obj[k]) for k in obj.keys()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise ConfigError(
        f"cannot read W&B settings from {label} of type {type(obj).__name__}: pass a mapping, a dataclass, "
        "a SimpleNamespace, an OmegaConf config, or keyword arguments"
    )


def _parse_signals(raw: Any, where: str) -> tuple[str, ...]:
    import signal

    names = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, Iterable) else None
    if names is None:
        raise ConfigError(f"preemption_signals={raw!r} (from {where}) must be a list of signal names")
    parsed = []
    for name in names:
        text = str(name).upper()
        text = text if text.startswith("SIG") else "SIG" + text
        if not isinstance(getattr(signal, text, None), signal.Signals) or text in ("SIGKILL", "SIGSTOP"):
            raise ConfigError(
                f"preemption_signals: {name!r} (from {where}) is not a signal that can be handled; "
                "use names such as SIGTERM, SIGUSR1 (Slurm's --signal=USR1@60)"
            )
        parsed.append(text)
    return tuple(parsed)


def _parse_devices(raw: Any, where: str) -> Devices:
    problem = (
        f"devices={raw!r} (from {where}) is not a device list: use GPU ids like [0, 1] or '0,1', "
        "or a device string such as 'cpu', 'mps', 'cuda:0'"
    )
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, bool):
        raise ConfigError(problem)
    if isinstance(raw, int):
        if raw < 0:
            raise ConfigError(problem)
        return (raw,)
    if isinstance(raw, str):
        text = raw.strip().lower().replace(" ", "")
        if _DEVICE_STRINGS.match(text):
            return text
        parts = [p for p in text.strip("[]").split(",") if p]
        if parts and all(p.isdigit() for p in parts):
            return _unique_ids([int(p) for p in parts], problem)
        raise ConfigError(problem)
    if isinstance(raw, Iterable):
        items = list(raw)
        if items and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items):
            return _unique_ids(items, problem)
        if items and all(isinstance(i, str) and i.strip().isdigit() for i in items):
            return _unique_ids([int(i) for i in items], problem)
    raise ConfigError(problem)


def _unique_ids(ids: list[int], problem: str) -> tuple[int, ...]:
    if len(set(ids)) != len(ids):
        raise ConfigError(problem + " (a GPU id is listed twice)")
    return tuple(ids)


def _parse_tags(raw: Any, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        return tuple(t.strip() for t in raw.split(",") if t.strip())
    if isinstance(raw, Iterable) and all(isinstance(t, str) for t in raw):
        return tuple(raw)
    raise ConfigError(f"tags={raw!r} (from {where}) must be a list of strings or a comma-separated string")


def _positive_number(key: str, raw: Any, where: str) -> float:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(raw, bool) or number <= 0:
        raise ConfigError(f"{key}={raw!r} (from {where}) must be a positive number of seconds")
    return number
