"""The parsers of :class:`~.config.BridgeConfig`'s fields: one per kind of value, each raising a
:class:`ConfigError` that names the field, the value and where it came from (keyword argument,
``cfg.wandb.<key>`` or ``$WANDB_...``). Kept apart from the model so the model reads as one declaration
per field.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import signal
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ValidationInfo

from .errors import ConfigError
from .run_ids import AUTO, validate_run_id

__all__ = [
    "HIDDEN",
    "JOB_TYPE_MAX",
    "NAME_MAX",
    "TAG_MAX",
    "Devices",
    "FromEnv",
    "Mode",
    "OptionalText",
    "Seconds",
    "Text",
    "attempt_count",
    "base_url_text",
    "checkpoint_target",
    "device_list",
    "epoch_count",
    "kept_versions",
    "mode_name",
    "no_project",
    "one_of",
    "parsed_by",
    "path_text",
    "project_name",
    "run_id_text",
    "run_label",
    "signal_names",
    "source",
    "tag_list",
    "text",
    "wandb_name",
]

Mode = Literal["online", "offline", "disabled"]
#: ``None`` (let Ultralytics choose), a tuple of GPU ids, or a device string such as ``"cpu"``.
Devices = tuple[int, ...] | str | None

# wandb itself accepts these historical spellings of the mode.
_MODE_ALIASES = {"online": "online", "run": "online", "offline": "offline", "dryrun": "offline", "disabled": "disabled"}
# W&B's own limits, checked here so a bad name is a ConfigError before any run exists (the backend's answer
# would be a BackendError that blames the URL or the key). wandb 0.31 `wandb/sdk/wandb_settings.py`
# (`validate_project`: at most 128 characters, none of / \\ # ? % :; `validate_run_tags`: 1 to 64 characters)
# and `wandb/sdk/artifacts/_validators.py` (`NAME_MAXLEN = 128`, `INVALID_URL_CHARS` adds CR and LF); the
# backend's 64-character job type (wandb/wandb#6402, a maintainer's answer) and 128-character run name and
# group (the backend's limit, NVIDIA-NeMo/Skills#842). Run ids: :mod:`.run_ids`.
_FORBIDDEN_NAME_CHARS = re.compile(r"[/\\#?%:\r\n]")
NAME_MAX = 128
JOB_TYPE_MAX = 64
TAG_MAX = 64
_DEVICE_STRINGS = re.compile(r"^(cpu|mps|cuda|cuda:\d+)$")
#: Fields whose values no message shows.
HIDDEN = frozenset({"api_key"})


@dataclasses.dataclass(frozen=True)
class FromEnv:
    """Field metadata: the environment variable that supplies the field when no other source does."""

    variable: str


def source(info: ValidationInfo, key: str) -> str:
    """Where the value of ``key`` came from; a direct ``BridgeConfig(...)`` call has keyword arguments only."""
    sources: Mapping[str, str] = (info.context or {}).get("sources", {})
    return sources.get(key, "keyword argument")


def parsed_by(parse: Callable[[Any, str, str], Any]) -> BeforeValidator:
    """Run ``parse(raw, field, source)`` on a given value before pydantic's own type check; it raises
    ConfigError, which names the field, the value and its source."""

    def run(raw: Any, info: ValidationInfo) -> Any:
        if raw is None:
            return None  # unset; pydantic refuses it where the field needs a value
        key = info.field_name or ""
        return parse(raw, key, source(info, key))

    return BeforeValidator(run)


def text(raw: Any, key: str, where: str) -> str:
    if not isinstance(raw, str):
        shown = "<hidden>" if key in HIDDEN else repr(raw)
        raise ConfigError(f"{key}={shown} (from {where}) must be a string")
    return raw


def path_text(raw: Any, key: str, where: str) -> str:
    return text(os.fspath(raw) if isinstance(raw, os.PathLike) else raw, key, where)


def wandb_name(raw: Any, key: str, where: str) -> str:
    """A project or entity name: at most 128 characters, none that W&B reserves for its URLs (an empty
    project is "no project", refused by :func:`project_name`)."""
    if not isinstance(raw, str) or _FORBIDDEN_NAME_CHARS.search(raw):
        raise ConfigError(
            f"{key}={raw!r} (from {where}) is not a valid W&B {key} name: it must be a string without line "
            "breaks or any of / \\ # ? % :"
        )
    return _at_most(raw, NAME_MAX, key, where)


def run_label(limit: int) -> Callable[[Any, str, str], str]:
    """The parser of a run's display name, group or job type: one line of at most ``limit`` characters."""

    def parse(raw: Any, key: str, where: str) -> str:
        value = text(raw, key, where)
        if any(not char.isprintable() for char in value):
            raise ConfigError(f"{key}={value!r} (from {where}) contains a line break or control character")
        return _at_most(value, limit, key, where)

    return parse


def _at_most(value: str, limit: int, key: str, where: str) -> str:
    if len(value) > limit:
        raise ConfigError(
            f"{key}={value[:24]!r}... (from {where}) has {len(value)} characters: W&B accepts at most {limit}"
        )
    return value


def no_project(label: str) -> ConfigError:
    looked = "keyword argument project=" + (f", {label}.project" if label else "")
    return ConfigError(
        f"no W&B project configured: looked in {looked} and $WANDB_PROJECT. "
        "Pass project='my-project' or set WANDB_PROJECT."
    )


def project_name(raw: Any, info: ValidationInfo) -> str:
    if not raw:
        raise no_project((info.context or {}).get("label", ""))
    return wandb_name(raw, "project", source(info, "project"))


def mode_name(raw: Any, key: str, where: str) -> str:
    mode = _MODE_ALIASES.get(str(raw).strip().lower())
    if mode is None:
        raise ConfigError(f"mode={raw!r} (from {where}) is not a W&B mode; use 'online', 'offline' or 'disabled'")
    return mode


def base_url_text(raw: Any, key: str, where: str) -> str:
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


def attempt_count(raw: Any, key: str, where: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ConfigError(f"{key}={raw!r} (from {where}) must be an integer >= 1")
    return raw


def one_of(*allowed: str) -> BeforeValidator:
    def check(raw: Any, key: str, where: str) -> str:
        if not isinstance(raw, str) or raw not in allowed:
            raise ConfigError(f"{key}={raw!r} (from {where}) must be one of {', '.join(allowed)}")
        return raw

    return parsed_by(check)


def run_id_text(raw: Any, key: str, where: str) -> str:
    return raw if raw == AUTO else validate_run_id(raw, where=f"run_id (from {where})")


def tag_list(raw: Any, key: str, where: str) -> tuple[str, ...]:
    tags: tuple[Any, ...] | None = None
    if isinstance(raw, str):
        tags = tuple(t.strip() for t in raw.split(",") if t.strip())
    elif isinstance(raw, Iterable):
        tags = tuple(raw)  # once: a generator can be read only once
    if tags is None or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"tags={raw!r} (from {where}) must be a list of strings or a comma-separated string")
    for tag in tags:
        if not 1 <= len(tag) <= TAG_MAX:
            shown = repr(tag[:24]) + ("..." if len(tag) > 24 else "")
            raise ConfigError(
                f"tags: {shown} (from {where}) has {len(tag)} characters: W&B accepts tags of 1 to {TAG_MAX} characters"
            )
    return tags


def signal_names(raw: Any, key: str, where: str) -> tuple[str, ...]:
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


def device_list(raw: Any, key: str, where: str) -> Devices:
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


Text = Annotated[str, parsed_by(text)]
OptionalText = Annotated[str | None, parsed_by(text)]
Seconds = Annotated[float, parsed_by(_seconds)]


def checkpoint_target(raw: Any, key: str, where: str) -> str:
    """``"wandb"`` or ``"s3://bucket/prefix"``: where each checkpointed epoch's ``last.pt`` goes."""
    value = raw.strip() if isinstance(raw, str) else raw
    if value == "wandb":
        return value
    if isinstance(value, str) and re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s?#]*)?", value):
        return value.rstrip("/")
    raise ConfigError(
        f"{key}={raw!r} (from {where}) is not a checkpoint destination: use checkpoints='wandb' (artifact "
        "files in W&B) or checkpoints='s3://<bucket>/<prefix>' (objects in S3, referenced by the artifact); "
        "leave it unset to upload no checkpoints"
    )


def epoch_count(raw: Any, key: str, where: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ConfigError(f"{key}={raw!r} (from {where}) must be a whole number of epochs >= 1")
    return raw


def kept_versions(raw: Any, key: str, where: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ConfigError(
            f"{key}={raw!r} (from {where}) must be an integer >= 1: how many recent checkpoint versions to keep "
            "(the best one is always kept besides)"
        )
    return raw
