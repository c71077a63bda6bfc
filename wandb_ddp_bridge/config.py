"""BridgeConfig: everything the bridge needs to create, hand off and resume one W&B run.

Built from keyword arguments, a mapping, or a nested application config with a ``wandb`` section
(OmegaConf/Hydra ``DictConfig``, dataclass, ``SimpleNamespace``), with the usual ``WANDB_*`` environment
variables as fallbacks. One frozen pydantic model: each field is declared once, with its parser and, where it
has one, its environment variable. Errors name the field, the offending value and where it was looked for
(keyword argument, ``cfg.wandb.<key>`` or ``$WANDB_...``) and are always :class:`ConfigError`; the API key is
never part of ``repr`` or of any message.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import signal
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from .artifacts.redact import plain
from .errors import ConfigError
from .run_ids import AUTO, validate_run_id

__all__ = ["BridgeConfig", "Devices", "Mode"]

Mode = Literal["online", "offline", "disabled"]
#: ``None`` (let Ultralytics choose), a tuple of GPU ids, or a device string such as ``"cpu"``.
Devices = tuple[int, ...] | str | None

# wandb itself accepts these historical spellings of the mode.
_MODE_ALIASES = {"online": "online", "run": "online", "offline": "offline", "dryrun": "offline", "disabled": "disabled"}
_FORBIDDEN_NAME_CHARS = re.compile(r"[/\\#?%:]")
_DEVICE_STRINGS = re.compile(r"^(cpu|mps|cuda|cuda:\d+)$")
_HIDDEN = frozenset({"api_key"})
#: Set by :meth:`BridgeConfig.resolve` for the one ``__init__`` it calls: the source of each value and the
#: label of the config section (pydantic passes a validation context to ``__init__`` only this way).
_ORIGINS: ContextVar[dict[str, Any] | None] = ContextVar("bridge_config_origins", default=None)


@dataclasses.dataclass(frozen=True)
class FromEnv:
    """Field metadata: the environment variable that supplies the field when no other source does."""

    variable: str


def _source(info: ValidationInfo, key: str) -> str:
    """Where the value of ``key`` came from; a direct ``BridgeConfig(...)`` call has keyword arguments only."""
    sources: Mapping[str, str] = (info.context or {}).get("sources", {})
    return sources.get(key, "keyword argument")


def _parsed_by(parse: Callable[[Any, str, str], Any]) -> BeforeValidator:
    """Run ``parse(raw, field, source)`` on a given value before pydantic's own type check; it raises
    ConfigError, which names the field, the value and its source."""

    def run(raw: Any, info: ValidationInfo) -> Any:
        if raw is None:
            return None  # unset; pydantic refuses it where the field needs a value
        key = info.field_name or ""
        return parse(raw, key, _source(info, key))

    return BeforeValidator(run)


def _text(raw: Any, key: str, where: str) -> str:
    if not isinstance(raw, str):
        shown = "<hidden>" if key in _HIDDEN else repr(raw)
        raise ConfigError(f"{key}={shown} (from {where}) must be a string")
    return raw


def _path_text(raw: Any, key: str, where: str) -> str:
    return _text(os.fspath(raw) if isinstance(raw, os.PathLike) else raw, key, where)


def _wandb_name(raw: Any, key: str, where: str) -> str:
    if not isinstance(raw, str) or _FORBIDDEN_NAME_CHARS.search(raw):
        raise ConfigError(
            f"{key}={raw!r} (from {where}) is not a valid W&B {key} name: it must be a string without any of "
            "/ \\ # ? % :"
        )
    return raw


def _no_project(label: str) -> ConfigError:
    looked = "keyword argument project=" + (f", {label}.project" if label else "")
    return ConfigError(
        f"no W&B project configured: looked in {looked} and $WANDB_PROJECT. "
        "Pass project='my-project' or set WANDB_PROJECT."
    )


def _project(raw: Any, info: ValidationInfo) -> str:
    if not raw:
        raise _no_project((info.context or {}).get("label", ""))
    return _wandb_name(raw, "project", _source(info, "project"))


def _mode(raw: Any, key: str, where: str) -> str:
    mode = _MODE_ALIASES.get(str(raw).strip().lower())
    if mode is None:
        raise ConfigError(f"mode={raw!r} (from {where}) is not a W&B mode; use 'online', 'offline' or 'disabled'")
    return mode


def _base_url(raw: Any, key: str, where: str) -> str:
    url = str(raw).rstrip("/")
    if not re.match(r"^https?://", url):
        raise ConfigError(f"base_url={url!r} (from {where}) must start with http:// or https://")
    return url


def _seconds(raw: Any, key: str, where: str) -> float:
    try:
        number = float(raw)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(raw, bool) or not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{key}={raw!r} (from {where}) must be a positive number of seconds")
    return number


def _attempts(raw: Any, key: str, where: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ConfigError(f"{key}={raw!r} (from {where}) must be an integer >= 1")
    return raw


def _one_of(*allowed: str) -> BeforeValidator:
    def check(raw: Any, key: str, where: str) -> str:
        if not isinstance(raw, str) or raw not in allowed:
            raise ConfigError(f"{key}={raw!r} (from {where}) must be one of {', '.join(allowed)}")
        return raw

    return _parsed_by(check)


def _run_id(raw: Any, key: str, where: str) -> str:
    return raw if raw == AUTO else validate_run_id(raw, where=f"run_id (from {where})")


def _tags(raw: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        return tuple(t.strip() for t in raw.split(",") if t.strip())
    if isinstance(raw, Iterable):
        tags = tuple(raw)  # once: a generator can be read only once
        if all(isinstance(t, str) for t in tags):
            return tags
    raise ConfigError(f"tags={raw!r} (from {where}) must be a list of strings or a comma-separated string")


def _signals(raw: Any, key: str, where: str) -> tuple[str, ...]:
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


def _devices(raw: Any, key: str, where: str) -> Devices:
    problem = (
        f"devices={raw!r} (from {where}) is not a device list: use GPU ids like [0, 1] or '0,1', "
        "or a device string such as 'cpu', 'mps', 'cuda:0'"
    )
    if raw == "" or (isinstance(raw, list) and not raw):
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


Text = Annotated[str, _parsed_by(_text)]
OptionalText = Annotated[str | None, _parsed_by(_text)]
Seconds = Annotated[float, _parsed_by(_seconds)]


class BridgeConfig(BaseModel):
    """Validated settings of one bridged run. Build it with :meth:`BridgeConfig.resolve`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: Annotated[str, BeforeValidator(_project), FromEnv("WANDB_PROJECT")]
    entity: Annotated[str | None, _parsed_by(_wandb_name), FromEnv("WANDB_ENTITY")] = None
    #: The run's identity: given here, it beats wandb's ``WANDB_NAME``, ``WANDB_RUN_GROUP``, ``WANDB_JOB_TYPE``,
    #: ``WANDB_TAGS`` and ``WANDB_NOTES`` when the run is created and every time it is resumed.
    name: OptionalText = None
    group: OptionalText = None
    job_type: Text = "training"
    tags: Annotated[tuple[str, ...], _parsed_by(_tags)] = ()
    notes: OptionalText = None
    mode: Annotated[Mode, _parsed_by(_mode), FromEnv("WANDB_MODE")] = "online"
    base_url: Annotated[str | None, _parsed_by(_base_url), FromEnv("WANDB_BASE_URL")] = None
    api_key: Annotated[str | None, _parsed_by(_text), FromEnv("WANDB_API_KEY")] = Field(default=None, repr=False)
    devices: Annotated[Devices, _parsed_by(_devices)] = None
    dir: Annotated[str | None, _parsed_by(_text), FromEnv("WANDB_DIR")] = None
    #: Seconds ``wandb.init`` may take (new run and resume) before it fails.
    init_timeout: Seconds = 90.0
    #: Attempts to resume the run after training before giving up (backoff doubles from 1 s).
    resume_attempts: Annotated[int, _parsed_by(_attempts)] = 3
    #: After a signal (SIGTERM, Ctrl-C) the post-training resume gets this many seconds in all, counted from the
    #: signal (a preemption's stop included), then it is abandoned and the run's end is recorded in a local
    #: offline copy: schedulers SIGKILL ~30 s after SIGTERM. No single resume attempt waits longer either.
    resume_grace_seconds: Seconds = 20.0
    #: ``"auto"`` keeps the run open when training runs in this very process; ``"never"`` always
    #: finishes and resumes (the behaviour of the hand-written recipe).
    fast_path: Annotated[Literal["auto", "never"], _one_of("auto", "never")] = "auto"
    #: What to do when the backend is unreachable at session start or at resume.
    on_backend_error: Annotated[Literal["raise", "offline"], _one_of("raise", "offline")] = "raise"
    #: The run to create or continue: an id, ``"auto"`` (derived from the scheduler's job identity, see
    #: ``run_ids``), or ``None`` for a new run. Never read from ``WANDB_RUN_ID`` (stale ids leak between jobs).
    run_id: Annotated[str | None, _parsed_by(_run_id)] = None
    #: With ``run_id="auto"``: the environment variable holding your job's identity (e.g. a Kubernetes Job name).
    job_identity_env: OptionalText = None
    #: A checkpoint (e.g. Ultralytics' ``weights/last.pt``) whose run this session continues: the bridge
    #: recorded the run next to it when that training started.
    resume_from: Annotated[str | None, _parsed_by(_path_text)] = None
    #: Signals that mean "this job is being preempted" while training runs in this process (by name).
    preemption_signals: Annotated[tuple[str, ...], _parsed_by(_signals)] = ("SIGTERM",)
    #: After a preemption signal, training gets this long to finish its step and save before it is cut off;
    #: part of ``resume_grace_seconds``, so it must be smaller (default: half of it).
    preemption_grace_seconds: Seconds = Field(default_factory=lambda valid: valid.get("resume_grace_seconds", 20) / 2)

    def __init__(self, /, **values: Any) -> None:
        # pydantic's documented way to give __init__ a validation context: where each value came from
        context = _ORIGINS.get()
        try:
            self.__pydantic_validator__.validate_python(values, self_instance=self, context=context)
        except ValidationError as error:
            raise _config_error(error, context or {}) from None

    @model_validator(mode="after")
    def _preemption_grace_fits(self, info: ValidationInfo) -> BridgeConfig:
        if self.preemption_grace_seconds < self.resume_grace_seconds:
            return self

        def where(key: str) -> str:
            return _source(info, key) if key in self.model_fields_set else "default"

        raise ConfigError(
            f"preemption_grace_seconds={self.preemption_grace_seconds:g} (from "
            f"{where('preemption_grace_seconds')}) leaves no time to record how the attempt ended: everything "
            f"after a preemption signal, stopping training and taking the run back, must fit in "
            f"resume_grace_seconds={self.resume_grace_seconds:g} (from {where('resume_grace_seconds')}). "
            "Set resume_grace_seconds above preemption_grace_seconds and below your scheduler's kill delay."
        )

    def __eq__(self, other: object) -> bool:
        # the API key is a credential, not a setting: two configs of the same run are equal whoever logs in
        if not isinstance(other, BridgeConfig):
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def _compared(self) -> tuple[Any, ...]:
        return tuple(getattr(self, key) for key in type(self).model_fields if key not in _HIDDEN)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    @classmethod
    def env_variables(cls) -> dict[str, str]:
        """Field name -> the ``WANDB_*`` variable it falls back to."""
        return {
            key: meta.variable
            for key, info in cls.model_fields.items()
            for meta in info.metadata
            if isinstance(meta, FromEnv)
        }

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
            if key in known and value is not None:  # application sections carry keys of their own: not ours
                values[key], sources[key] = value, f"{label}.{key}"
        for key, value in overrides.items():
            if key not in known:
                raise ConfigError(
                    f"unknown setting {key!r} given as a keyword argument; "
                    f"known settings are: {', '.join(sorted(known))}"
                )
            if value is not None:
                values[key], sources[key] = value, "keyword argument"
        for key, var in cls.env_variables().items():
            if key not in values and os.environ.get(var):
                values[key], sources[key] = os.environ[var], f"${var}"
        token = _ORIGINS.set({"sources": sources, "label": label})
        try:
            return cls(**values)
        finally:
            _ORIGINS.reset(token)

    def describe(self) -> str:
        """One line for logs and reports (no secrets)."""
        where = f"{self.entity}/{self.project}" if self.entity else self.project
        return f"{where} mode={self.mode} base_url={self.base_url or 'default'} devices={self.devices!r}"


def _config_error(error: ValidationError, context: Mapping[str, Any]) -> ConfigError:
    """The library's error for pydantic's: the parsers' own ConfigError where one was raised (it names field,
    value and source); never pydantic's text, which would quote the API key."""
    first = error.errors()[0]
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, ConfigError):
        return raised
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing" and key == "project":
        return _no_project(context.get("label", ""))
    if first["type"] == "extra_forbidden":
        return ConfigError(
            f"unknown setting {key!r}; known settings are: {', '.join(sorted(BridgeConfig.field_names()))}"
        )
    field = str(first["loc"][0]) if first["loc"] else ""
    shown = "<hidden>" if field in _HIDDEN else repr(first["input"])
    where = context.get("sources", {}).get(field, "keyword argument")
    return ConfigError(f"{key or 'settings'}={shown} (from {where}): {first['msg']}")


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
    if isinstance(obj, Mapping) or (hasattr(obj, "keys") and hasattr(obj, "__getitem__")):
        try:
            return obj[key] if key in obj else None
        except Exception:  # OmegaConf raises on missing mandatory values; treat as absent here
            return None
    if dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        return getattr(obj, key, None)
    return None


def _as_mapping(obj: Any, label: str) -> Mapping[str, Any]:
    if isinstance(obj, Mapping) or (hasattr(obj, "keys") and hasattr(obj, "__getitem__")):
        return {str(k): plain(obj[k]) for k in obj.keys()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise ConfigError(
        f"cannot read W&B settings from {label} of type {type(obj).__name__}: pass a mapping, a dataclass, "
        "a SimpleNamespace, an OmegaConf config, or keyword arguments"
    )
