"""Turn any config object into plain Python data: what YAML, JSON and the W&B run config can hold.

Plain data: dicts with string keys, lists, and values of exactly ``str``/``int``/``float``/``bool``/``None``.
Subclasses are converted too (``IntEnum``, ``numpy.float64``, ``numpy.int64`` are ``int``/``float``
subclasses that YAML's safe dumper refuses), so a config that the run accepted can always be written as the
config artifact. No redaction happens here (:mod:`.redact`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import os
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from ..errors import ConfigError
from .secret_rules import REDACTED

__all__ = ["is_omegaconf", "omegaconf_plain", "plain", "to_plain"]

#: Exact types a plain value may have (``bool`` before ``int``: a bool is an int).
_BUILTIN_SCALARS = (bool, str, int, float)


def to_plain(cfg: Any) -> Any:
    """A plain copy of ``cfg``: a mapping, OmegaConf/Hydra config (interpolations resolved), dataclass,
    pydantic v1/v2 model, namespace, or the path of a YAML/JSON file. No redaction happens here."""
    if isinstance(cfg, (str, os.PathLike)):
        return _load_file(Path(os.fspath(cfg)))
    if is_omegaconf(cfg):
        return omegaconf_plain(cfg)[0]
    return _plain(cfg, set())


def plain(value: Any) -> Any:
    """A plain, JSON-able copy of one in-memory value (unlike :func:`to_plain`, a string stays a string)."""
    return _plain(value, set())


def _load_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(f"config path {str(path)!r} must end in .yaml, .yml or .json; pass the loaded object instead")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    try:
        if suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError (via its MarkedYAMLError)
        raise ConfigError(f"config file {str(path)!r} is not valid {suffix[1:].upper()}: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    return _plain({} if data is None else data, set())


def is_omegaconf(obj: object) -> bool:
    return type(obj).__module__.split(".")[0] == "omegaconf"


def omegaconf_plain(cfg: Any) -> tuple[Any, Any]:
    """(resolved, raw) containers; an interpolation that cannot be resolved here (``${hydra:...}`` outside a
    Hydra app) keeps its raw ``${...}`` text instead of failing the whole config."""
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(cfg, resolve=False)
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
    except Exception:
        resolved = _resolve_each(cfg, raw)
    return _plain(resolved, set()), _plain(raw, set())


def _resolve_each(node: Any, raw: Any) -> Any:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    def one(get: Any, raw_value: Any) -> Any:
        try:
            value = get()
        except Exception:
            return raw_value
        if isinstance(value, (DictConfig, ListConfig)):
            return _resolve_each(value, OmegaConf.to_container(value, resolve=False))
        return value

    if isinstance(node, DictConfig):
        return {k: one(lambda k=k: node[k], raw.get(k)) for k in raw}
    if isinstance(node, ListConfig):
        return [one(lambda i=i: node[i], raw[i]) for i in range(len(raw))]
    return raw


def _plain(obj: Any, seen: set[int]) -> Any:
    if obj is None or type(obj) in _BUILTIN_SCALARS:
        return obj
    if isinstance(obj, enum.Enum):  # before the scalars: an IntEnum is an int, a StrEnum a str
        return _plain(obj.value, seen)
    for scalar in _BUILTIN_SCALARS:  # subclasses (numpy.float64 is a float) become the builtin
        if isinstance(obj, scalar):
            return scalar(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode("utf-8", errors="replace")
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if type(obj).__name__ in ("SecretStr", "SecretBytes"):  # pydantic: never unwrap
        return REDACTED
    if is_omegaconf(obj):
        return omegaconf_plain(obj)[0]
    if id(obj) in seen:
        raise ConfigError(f"config contains a reference cycle through a {type(obj).__name__}")
    seen = seen | {id(obj)}
    if isinstance(obj, Mapping):
        return {_plain_key(k): _plain(v, seen) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name), seen) for f in dataclasses.fields(obj)}
    if hasattr(obj, "model_dump") and hasattr(type(obj), "model_fields"):  # pydantic v2
        return _plain(obj.model_dump(), seen)
    if hasattr(obj, "dict") and hasattr(type(obj), "__fields__"):  # pydantic v1
        return _plain(obj.dict(), seen)
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [_plain(v, seen) for v in items]
    if hasattr(obj, "__dict__") and type(obj).__module__ in ("types", "argparse"):  # SimpleNamespace
        return {_plain_key(k): _plain(v, seen) for k, v in vars(obj).items()}
    if hasattr(obj, "tolist"):  # numpy scalars/arrays, torch tensors: already imported by the caller
        return _plain(obj.tolist(), seen)
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars without tolist (numpy.bool_ has both)
        return _plain(obj.item(), seen)
    return str(obj)


def _plain_key(key: Any) -> str:
    return key if isinstance(key, str) else str(_plain(key, set()))
