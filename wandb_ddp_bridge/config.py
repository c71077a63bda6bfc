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
import os
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from .artifacts.plain import is_omegaconf
from .artifacts.redact import plain
from .config_fields import (
    HIDDEN,
    JOB_TYPE_MAX,
    NAME_MAX,
    Devices,
    FromEnv,
    Mode,
    OptionalText,
    Seconds,
    attempt_count,
    base_url_text,
    checkpoint_target,
    device_list,
    epoch_count,
    kept_versions,
    mode_name,
    no_project,
    one_of,
    parsed_by,
    path_text,
    project_name,
    run_id_text,
    run_label,
    signal_names,
    source,
    tag_list,
    text,
    wandb_name,
)
from .errors import ConfigError

__all__ = ["BridgeConfig", "Devices", "Mode"]


#: Set by :meth:`BridgeConfig.resolve` for the one ``__init__`` it calls: the source of each value and the
#: label of the config section (pydantic passes a validation context to ``__init__`` only this way).
_MISSING = "???"  # OmegaConf's MISSING: a structured config's mandatory value that was never given

_ORIGINS: ContextVar[dict[str, Any] | None] = ContextVar("bridge_config_origins", default=None)


class BridgeConfig(BaseModel):
    """Validated settings of one bridged run. Build it with :meth:`BridgeConfig.resolve`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: Annotated[str, BeforeValidator(project_name), FromEnv("WANDB_PROJECT")]
    entity: Annotated[str | None, parsed_by(wandb_name), FromEnv("WANDB_ENTITY")] = None
    #: The run's identity: given here, it beats wandb's ``WANDB_NAME``, ``WANDB_RUN_GROUP``, ``WANDB_JOB_TYPE``,
    #: ``WANDB_TAGS`` and ``WANDB_NOTES`` when the run is created and every time it is resumed.
    name: Annotated[str | None, parsed_by(run_label(NAME_MAX))] = None
    group: Annotated[str | None, parsed_by(run_label(NAME_MAX))] = None
    job_type: Annotated[str, parsed_by(run_label(JOB_TYPE_MAX))] = "training"
    tags: Annotated[tuple[str, ...], parsed_by(tag_list)] = ()
    notes: OptionalText = None
    mode: Annotated[Mode, parsed_by(mode_name), FromEnv("WANDB_MODE")] = "online"
    base_url: Annotated[str | None, parsed_by(base_url_text), FromEnv("WANDB_BASE_URL")] = None
    api_key: Annotated[str | None, parsed_by(text), FromEnv("WANDB_API_KEY")] = Field(default=None, repr=False)
    devices: Annotated[Devices, parsed_by(device_list)] = None
    dir: Annotated[str | None, parsed_by(text), FromEnv("WANDB_DIR")] = None
    #: Seconds ``wandb.init`` may take (new run and resume) before it fails.
    init_timeout: Seconds = 90.0
    #: Attempts to resume the run after training before giving up (backoff doubles from 1 s).
    resume_attempts: Annotated[int, parsed_by(attempt_count)] = 3
    #: After a signal (SIGTERM, Ctrl-C) the post-training resume gets this many seconds in all, counted from the
    #: signal (a preemption's stop included), then it is abandoned and the run's end is recorded in a local
    #: offline copy: schedulers SIGKILL ~30 s after SIGTERM. No single resume attempt waits longer either.
    resume_grace_seconds: Seconds = 20.0
    #: ``"auto"`` keeps the run open when training runs in this very process; ``"never"`` always
    #: finishes and resumes (the behaviour of the hand-written recipe).
    fast_path: Annotated[Literal["auto", "never"], one_of("auto", "never")] = "auto"
    #: What to do when the backend is unreachable at session start or at resume.
    on_backend_error: Annotated[Literal["raise", "offline"], one_of("raise", "offline")] = "raise"
    #: The run to create or continue: an id, ``"auto"`` (derived from the scheduler's job identity, see
    #: ``run_ids``), or ``None`` for a new run. Never read from ``WANDB_RUN_ID`` (stale ids leak between jobs).
    run_id: Annotated[str | None, parsed_by(run_id_text)] = None
    #: With ``run_id="auto"``: the environment variable holding your job's identity (e.g. a Kubernetes Job name).
    job_identity_env: OptionalText = None
    #: A checkpoint (e.g. Ultralytics' ``weights/last.pt``) whose run this session continues: the bridge
    #: recorded the run next to it when that training started.
    resume_from: Annotated[str | None, parsed_by(path_text)] = None
    #: Signals that mean "this job is being preempted" while training runs in this process (by name).
    preemption_signals: Annotated[tuple[str, ...], parsed_by(signal_names)] = ("SIGTERM",)
    #: After a preemption signal, training gets this long to finish its step and save before it is cut off;
    #: part of ``resume_grace_seconds``, so it must be smaller (default: half of it).
    preemption_grace_seconds: Seconds = Field(default_factory=lambda valid: valid.get("resume_grace_seconds", 20) / 2)
    #: Where each checkpointed epoch's ``last.pt`` goes so a restart on another machine can resume it: ``"wandb"``
    #: (a version of the run's checkpoint artifact), ``"s3://bucket/prefix"`` (an S3 object the artifact
    #: references) or ``None`` (off).
    checkpoints: Annotated[str | None, parsed_by(checkpoint_target)] = None
    #: Upload a checkpoint every this many epochs (the last epoch's always).
    checkpoint_every: Annotated[int, parsed_by(epoch_count)] = 1
    #: How many recent checkpoint versions to keep; older ones are deleted, except the one aliased ``best``.
    checkpoint_keep: Annotated[int, parsed_by(kept_versions)] = 2

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
            return source(info, key) if key in self.model_fields_set else "default"

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
        return tuple(getattr(self, key) for key in type(self).model_fields if key not in HIDDEN)

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
        known = cls.field_names()
        section, unreadable, label = _find_section(cfg, known)
        for key, value in section.items():
            if value is not None:
                values[key], sources[key] = value, f"{label}.{key}"
        for key, value in overrides.items():
            if key not in known:
                raise ConfigError(
                    f"unknown setting {key!r} given as a keyword argument; "
                    f"known settings are: {', '.join(sorted(known))}"
                )
            if value is not None:
                values[key], sources[key] = value, "keyword argument"
        variables = cls.env_variables()
        for key, var in variables.items():
            if key not in values and os.environ.get(var):
                values[key], sources[key] = os.environ[var], f"${var}"
        for key, why in unreadable.items():
            if key not in values:  # a keyword argument or the environment stood in for it
                raise _unreadable(f"{label}.{key}", why, key, variables.get(key))
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
        return no_project(context.get("label", ""))
    if first["type"] == "extra_forbidden":
        return ConfigError(
            f"unknown setting {key!r}; known settings are: {', '.join(sorted(BridgeConfig.field_names()))}"
        )
    field = str(first["loc"][0]) if first["loc"] else ""
    shown = "<hidden>" if field in HIDDEN else repr(first["input"])
    where = context.get("sources", {}).get(field, "keyword argument")
    return ConfigError(f"{key or 'settings'}={shown} (from {where}): {first['msg']}")


def _unreadable(where: str, why: str, key: str, variable: str | None) -> ConfigError:
    instead = f"pass {key}=... or set ${variable}" if variable else f"pass {key}=..."
    return ConfigError(f"{key} (from {where}) {why}, and nothing else gives {key}: set it there, or {instead}")


def _find_section(cfg: Any, keys: Iterable[str]) -> tuple[dict[str, Any], dict[str, str], str]:
    """The bridge's ``keys`` read from the W&B section of ``cfg``, the keys that could not be read (an
    OmegaConf ``???`` or unresolvable interpolation) with the reason, and a label saying where they came from.
    Only ``keys`` are read: an application's section carries settings of its own, which stay unresolved."""
    if cfg is None:
        return {}, {}, ""
    if isinstance(cfg, BridgeConfig):
        return {f: getattr(cfg, f) for f in BridgeConfig.field_names()}, {}, "BridgeConfig"
    nested = _get(cfg, "wandb")
    section, label = (nested, "cfg.wandb") if nested is not None else (cfg, "cfg")
    values: dict[str, Any] = {}
    unreadable: dict[str, str] = {}
    present = _keys(section, label)
    for key in keys:
        if key not in present:
            continue
        try:
            values[key] = _read(section, key)
        except _Unset as unset:
            unreadable[key] = str(unset)
    return values, unreadable, label


class _Unset(Exception):
    """A key that is there but has no value yet (OmegaConf ``???``, an interpolation that cannot resolve)."""


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` or ``obj.key``; ``None`` when absent or unreadable (then ``obj`` itself is the section)."""
    try:
        return _item(obj, key) if key in _keys(obj, "cfg") else None
    except Exception:  # OmegaConf's own errors for a ``???`` or broken ``wandb`` node, a type we cannot read
        return None


def _keys(obj: Any, label: str) -> set[str]:
    # an OmegaConf ``key in cfg`` is False for a ``???`` value; ``keys()`` lists it
    if isinstance(obj, Mapping) or (hasattr(obj, "keys") and hasattr(obj, "__getitem__")):
        return {str(k) for k in obj.keys()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name for f in dataclasses.fields(obj)}
    if hasattr(obj, "__dict__"):
        return {k for k in vars(obj) if not k.startswith("_")}
    raise ConfigError(
        f"cannot read W&B settings from {label} of type {type(obj).__name__}: pass a mapping, a dataclass, "
        "a SimpleNamespace, an OmegaConf config, or keyword arguments"
    )


def _read(obj: Any, key: str) -> Any:
    """One value, plain; raises :class:`_Unset` for OmegaConf's ``???`` (also in a plain dataclass built from a
    structured config's declaration) and for an interpolation that cannot be resolved."""
    try:
        value = _item(obj, key)
        if is_omegaconf(value):  # a nested node (the tags list): resolved strictly, ``???`` included
            from omegaconf import OmegaConf

            value = OmegaConf.to_container(value, resolve=True, throw_on_missing=True)
    except Exception as exc:
        if not is_omegaconf(exc):
            raise
        raise _Unset(_omegaconf_reason(exc)) from None
    if isinstance(value, str) and value == _MISSING:
        raise _Unset(f"is {_MISSING!r} (a mandatory value that was never given)")
    return plain(value)


def _item(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping) or (hasattr(obj, "keys") and hasattr(obj, "__getitem__")):
        return obj[key]
    return getattr(obj, key)


def _omegaconf_reason(exc: Exception) -> str:
    if type(exc).__name__ == "MissingMandatoryValue":
        return f"is {_MISSING!r} (a mandatory value that was never given)"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot be resolved ({type(exc).__name__}: {first_line})"
