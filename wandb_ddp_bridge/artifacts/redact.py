"""Strip secrets from everything the bridge writes: one :class:`Redactor` per session, remembering every
secret it has seen, so a password found in ``save_config`` is also cut out of later metadata, summaries and
failure messages.

A secret is: a value under a secret-looking key (strings and numbers alike), a value shaped like a W&B API
key, a URL's userinfo password, a value reached through an OmegaConf interpolation that names a secret, the
values of :data:`~.secret_rules.SECRET_ENV_VARS`, and whatever the owner :meth:`~Redactor.remember`\\ s (the
run's API key). Once known, a secret is replaced wherever it occurs: as a whole value of any type, or inside
text. The caller's object is never mutated: everything returned is a fresh copy.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any

from .plain import is_omegaconf, omegaconf_plain, plain, to_plain
from .secret_rules import (
    BARE_HEX,
    EMBEDDED_KEYS,
    REDACTED,
    SECRET_ENV_VARS,
    is_hash_key,
    is_secret_key,
    looks_like_api_key,
    mask_url_passwords,
    url_passwords,
)

__all__ = [
    "REDACTED",
    "SECRET_ENV_VARS",
    "Redactor",
    "is_secret_key",
    "looks_like_api_key",
    "plain",
    "redact",
    "redact_text",
    "to_plain",
]

_MIN_EXACT_SECRET = 4  # a shorter value under a secret key is redacted there but not hunted elsewhere
_MIN_SUBSTRING_SECRET = 6  # shorter secrets are only matched as whole values, never inside other text
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


class Redactor:
    """The secrets one session has seen, and the redaction of anything against all of them.

    Every call learns the secrets of its input first, then redacts the input against everything learnt so far
    (and the secret environment variables, read at call time). Safe to share between threads."""

    def __init__(self, secrets: Iterable[object] = ()) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self.remember(*secrets)

    def remember(self, *values: object) -> None:
        """Treat each value (any scalar: a number counts by its text) as a secret from now on."""
        with self._lock:
            for value in values:
                text = _secret_text(value)
                if text is not None:
                    self._known.add(text)

    @property
    def known(self) -> frozenset[str]:
        """What this redactor hides wherever it appears (values shorter than 4 characters are hidden only
        where a rule finds them)."""
        return frozenset(self._known)

    def redact(self, obj: Any) -> Any:
        """A plain, redacted deep copy of ``obj`` (any input :func:`to_plain` accepts, except that a bare
        string is data, not a path)."""
        if is_omegaconf(obj):
            value, raw = omegaconf_plain(obj)
        else:
            value, raw = plain(obj), None
        found: set[str] = set()
        _collect(value, found, key=None)
        self.remember(*found)
        return _redact(value, raw, self._ordered(), key=None)

    def text(self, text: str) -> str:
        """``text`` with every known secret, URL password and embedded API key replaced."""
        self.remember(*url_passwords(text))
        return _redact_text(text, self._ordered())

    def failure(self, exc: BaseException) -> str:
        """``"<ExceptionType>: <redacted message>"``: what a run's summary may say about a failure."""
        return f"{type(exc).__name__}: {self.text(str(exc))}"

    def _ordered(self) -> list[str]:
        """Known secrets with the environment's, longest first: a secret may contain another."""
        environment = (_secret_text(os.environ.get(name)) for name in SECRET_ENV_VARS)
        with self._lock:
            known = self._known | {s for s in environment if s is not None}
        return sorted(known, key=len, reverse=True)


def redact(cfg: Any, *, secrets: Iterable[str] = ()) -> Any:
    """A plain, redacted deep copy of ``cfg`` by a fresh :class:`Redactor` that knows ``secrets``."""
    return Redactor(secrets).redact(cfg)


def redact_text(text: str, *, secrets: Iterable[str] = ()) -> str:
    """``text`` with ``secrets``, the secret environment values, URL passwords and API keys replaced."""
    return Redactor(secrets).text(text)


def _secret_text(value: object) -> str | None:
    """The text a secret value is hunted by; ``None`` for values too short or too vague to hunt."""
    if value is None or isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value).strip()
    return text if len(text) >= _MIN_EXACT_SECRET else None


def _collect(obj: Any, out: set[str], key: Any) -> None:
    """Add to ``out`` the secrets ``obj`` reveals: leaves under secret keys, API keys, URL passwords."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if is_secret_key(k):
                _collect_leaves(v, out)
            else:
                _collect(v, out, k)
    elif isinstance(obj, list):
        for v in obj:
            _collect(v, out, key)
    elif isinstance(obj, str):
        if _is_key_value(obj.strip(), key):
            out.add(obj.strip())
        out.update(p for p in url_passwords(obj) if len(p) >= _MIN_EXACT_SECRET)


def _collect_leaves(obj: Any, out: set[str]) -> None:
    if isinstance(obj, dict):
        for v in obj.values():
            _collect_leaves(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _collect_leaves(v, out)
    elif (text := _secret_text(obj)) is not None:
        out.add(text)


def _is_key_value(value: str, key: Any) -> bool:
    if not looks_like_api_key(value):
        return False
    return not (is_hash_key(key) and BARE_HEX.fullmatch(value))


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
        return _redact_text(obj, known, hash_ok=is_hash_key(key))
    if (text := _secret_text(obj)) is not None and text in known:
        return REDACTED  # a number that is a known secret
    return obj


def _redact_text(text: str, known: list[str], *, hash_ok: bool = False) -> str:
    stripped = text.strip()
    if stripped in known:
        return REDACTED
    if looks_like_api_key(stripped) and not (hash_ok and BARE_HEX.fullmatch(stripped)):
        return REDACTED
    for secret in known:
        if len(secret) >= _MIN_SUBSTRING_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return mask_url_passwords(EMBEDDED_KEYS.sub(REDACTED, text))
