"""Turn any config object into plain Python data, and strip secrets from it before it leaves the process.

Plain data: dicts with string keys, lists, str/int/float/bool/None. Secrets are replaced by ``REDACTED``:
values under secret-looking keys, values that look like a W&B API key, values reached through an OmegaConf
interpolation that names a secret, and every further occurrence of a value found in one of those places.
The caller's object is never mutated: everything returned is a fresh copy.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePath
from typing import Any

from ..errors import ConfigError

__all__ = [
    "REDACTED",
    "SECRET_ENV_VARS",
    "is_secret_key",
    "looks_like_api_key",
    "plain",
    "redact",
    "redact_text",
    "to_plain",
]

REDACTED = "***REDACTED***"

# Compared against the key with separators and case removed ("AWS-Secret-Access-Key" -> "awssecretaccesskey").
_SECRET_KEY_PARTS = (
    "apikey",
    "secret",
    "password",
    "passwd",
    "credential",
    "privatekey",
    "accesskey",
    "authorization",
)
# "token" must be a whole word ("hf_token", "accessToken"), so "max_tokens" and "tokenizer" stay readable;
# tokenizer special tokens ("pad_token") are vocabulary, not credentials.
_TOKENIZER_TOKENS = frozenset({"pad", "eos", "bos", "unk", "sep", "cls", "mask"})
# A bare 40-hex value under one of these words is a content hash (a git commit), not an API key.
_HASH_WORDS = frozenset({"commit", "sha", "sha1", "hash", "digest", "checksum", "revision", "rev", "etag", "md5"})
# Environment variables whose values are redacted wherever they appear in a config.
SECRET_ENV_VARS = ("WANDB_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HF_TOKEN")

# Legacy keys: 40 hex chars; on-prem keys prefix them ("local-<40 hex>"); keys issued since late 2025 are
# about 86 chars and start with "wandb_v1_" (newer wandb clients accept them; the client only checks for
# 40+ word characters after an optional "<prefix>-").
_LEGACY_KEY = re.compile(r"(?:[A-Za-z][A-Za-z0-9]{0,19}-)?[0-9a-fA-F]{40}")
_V1_KEY = r"(?:[A-Za-z][A-Za-z0-9]{0,19}-)?wandb_v\d+_[A-Za-z0-9_-]{30,}"
_V1_KEY_FULL = re.compile(_V1_KEY)
_EMBEDDED_KEYS = re.compile(
    rf"(?<![A-Za-z0-9_-]){_V1_KEY}"
    r"|(?<![A-Za-z0-9_-])[A-Za-z][A-Za-z0-9]{0,19}-[0-9a-fA-F]{40}(?![A-Za-z0-9_])"
)
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_BARE_HEX = re.compile(r"[0-9a-fA-F]{40}")
_MIN_EXACT_SECRET = 4  # a shorter value under a secret key is redacted there but not hunted elsewhere
_MIN_SUBSTRING_SECRET = 6  # shorter secrets are only matched as whole values, never inside other text


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(key) if w]


def is_secret_key(key: object) -> bool:
    """True for keys like ``api_key``, ``apiKey``, ``AWS_SECRET_ACCESS_KEY``, ``hf_token``, ``password``."""
    if not isinstance(key, str):
        return False
    words = _words(key)
    joined = "".join(words)
    if any(part in joined for part in _SECRET_KEY_PARTS):
        return True
    if "token" in words:
        i = words.index("token")
        before = words[i - 1] if i else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        return not (before in _TOKENIZER_TOKENS or after in {"id", "ids"})
    return False


def _is_hash_key(key: object) -> bool:
    return isinstance(key, str) and any(w in _HASH_WORDS for w in _words(key))


def looks_like_api_key(value: object) -> bool:
    """True when the whole string has the shape of a W&B API key (legacy, on-prem, ``wandb_v1_``)."""
    if not isinstance(value, str):
        return False
    v = value.strip()
    return bool(_LEGACY_KEY.fullmatch(v) or _V1_KEY_FULL.fullmatch(v))


# --------------------------------------------------------------------------------------------- to_plain


def to_plain(cfg: Any) -> Any:
    """A plain copy of ``cfg``: a mapping, OmegaConf/Hydra config (interpolations resolved), dataclass,
    pydantic v1/v2 model, namespace, or the path of a YAML/JSON file. No redaction happens here."""
    if isinstance(cfg, (str, os.PathLike)):
        return _load_file(Path(os.fspath(cfg)))
    if _is_omegaconf(cfg):
        return _omegaconf_plain(cfg)[0]
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


def _is_omegaconf(obj: object) -> bool:
    return type(obj).__module__.split(".")[0] == "omegaconf"


def _omegaconf_plain(cfg: Any) -> tuple[Any, Any]:
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
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, enum.Enum):
        return _plain(obj.value, seen)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if type(obj).__name__ in ("SecretStr", "SecretBytes"):  # pydantic: never unwrap
        return REDACTED
    if _is_omegaconf(obj):
        return _omegaconf_plain(obj)[0]
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
    return str(obj)


def _plain_key(key: Any) -> str:
    return key if isinstance(key, str) else str(_plain(key, set()))


# --------------------------------------------------------------------------------------------- redact


def redact(cfg: Any, *, secrets: Iterable[str] = ()) -> Any:
    """A plain, redacted deep copy of ``cfg`` (any input :func:`to_plain` accepts, except that a bare string
    is data, not a path). ``secrets`` are extra strings to remove wherever they occur; the values of
    :data:`SECRET_ENV_VARS` are always removed."""
    if _is_omegaconf(cfg):
        plain, raw = _omegaconf_plain(cfg)
    else:
        plain, raw = _plain(cfg, set()), None
    known = _known_secrets(secrets)
    _collect_secret_values(plain, known)
    ordered = sorted(known, key=len, reverse=True)  # longest first: a secret may contain another
    return _redact(plain, raw, ordered, key=None)


def _known_secrets(extra: Iterable[str]) -> set[str]:
    candidates = [*extra, *(os.environ.get(name, "") for name in SECRET_ENV_VARS)]
    return {s.strip() for s in candidates if isinstance(s, str) and len(s.strip()) >= _MIN_EXACT_SECRET}


def _collect_secret_values(obj: Any, out: set[str], key: Any = None) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if is_secret_key(k):
                _collect_leaves(v, out)
            else:
                _collect_secret_values(v, out, k)
    elif isinstance(obj, list):
        for v in obj:
            _collect_secret_values(v, out, key)
    elif isinstance(obj, str) and _is_key_value(obj.strip(), key):
        out.add(obj.strip())


def _collect_leaves(obj: Any, out: set[str]) -> None:
    if isinstance(obj, dict):
        for v in obj.values():
            _collect_leaves(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _collect_leaves(v, out)
    elif isinstance(obj, str) and len(obj.strip()) >= _MIN_EXACT_SECRET:
        out.add(obj.strip())


def _is_key_value(value: str, key: Any) -> bool:
    if not looks_like_api_key(value):
        return False
    return not (_is_hash_key(key) and _BARE_HEX.fullmatch(value))


def _names_secret(raw: Any) -> bool:
    """Does a raw OmegaConf string interpolate a secret (``${oc.env:WANDB_API_KEY}``, ``${db.password}``)?"""
    if not isinstance(raw, str):
        return False
    return any(is_secret_key(part) for body in _INTERPOLATION.findall(raw) for part in re.split(r"[:.,\s]", body))


def _redact(obj: Any, raw: Any, known: list[str], key: Any) -> Any:
    if _names_secret(raw):
        return REDACTED
    if isinstance(obj, dict):
        raw_map = raw if isinstance(raw, dict) else {}
        return {
            k: (REDACTED if is_secret_key(k) and v not in (None, "") else _redact(v, raw_map.get(k), known, k))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        raw_list = raw if isinstance(raw, list) and len(raw) == len(obj) else [None] * len(obj)
        return [_redact(v, r, known, key) for v, r in zip(obj, raw_list, strict=True)]
    if isinstance(obj, str):
        return _redact_text(obj, known, hash_ok=_is_hash_key(key))
    return obj


def _redact_text(text: str, known: list[str], *, hash_ok: bool = False) -> str:
    stripped = text.strip()
    if stripped in known:
        return REDACTED
    if looks_like_api_key(stripped) and not (hash_ok and _BARE_HEX.fullmatch(stripped)):
        return REDACTED
    for secret in known:
        if len(secret) >= _MIN_SUBSTRING_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return _EMBEDDED_KEYS.sub(REDACTED, text)


def redact_text(text: str, *, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secrets, the :data:`SECRET_ENV_VARS` values and embedded API keys replaced."""
    known = _known_secrets(secrets)
    return _redact_text(text, sorted(known, key=len, reverse=True))
