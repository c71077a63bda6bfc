"""What counts as a secret: key names, the shapes of W&B API keys, passwords in URLs.

Pure rules, no state: :mod:`.redact` applies them and remembers what they found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = [
    "REDACTED",
    "SECRET_ENV_VARS",
    "is_hash_key",
    "is_secret_key",
    "looks_like_api_key",
    "mask_url_passwords",
    "url_passwords",
]

REDACTED = "***REDACTED***"

# Compared against the key with separators and case removed ("AWS-Secret-Access-Key" -> "awssecretaccesskey").
_SECRET_KEY_PARTS = (
    "apikey",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "credential",
    "privatekey",
    "accesskey",
    "authorization",
)
# Short words that name a password only as a whole word ("db_pass", "PW", "redisPwd"), never inside another
# ("bypass", "compass", "pwm").
_SECRET_WORDS = frozenset({"pass", "pwd", "pw"})
# The shell's working directory variable, spelt exactly so, holds a path: not a password.
_NOT_SECRET_KEYS = frozenset({"PWD"})
# "token" must be a whole word ("hf_token", "accessToken"), so "max_tokens" and "tokenizer" stay readable;
# tokenizer special tokens ("pad_token") are vocabulary, not credentials.
_TOKENIZER_TOKENS = frozenset({"pad", "eos", "bos", "unk", "sep", "cls", "mask"})
# A bare 40-hex value under one of these words is a content hash (a git commit), not an API key.
_HASH_WORDS = frozenset({"commit", "sha", "sha1", "hash", "digest", "checksum", "revision", "rev", "etag", "md5"})
#: Environment variables whose values are secrets wherever they appear.
SECRET_ENV_VARS = ("WANDB_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HF_TOKEN")

# Legacy keys: 40 hex chars; on-prem keys prefix them ("local-<40 hex>"); keys issued since late 2025 are
# about 86 chars and start with "wandb_v1_" (newer wandb clients accept them; the client only checks for
# 40+ word characters after an optional "<prefix>-").
_LEGACY_KEY = re.compile(r"(?:[A-Za-z][A-Za-z0-9]{0,19}-)?[0-9a-fA-F]{40}")
_V1_KEY = r"(?:[A-Za-z][A-Za-z0-9]{0,19}-)?wandb_v\d+_[A-Za-z0-9_-]{30,}"
_V1_KEY_FULL = re.compile(_V1_KEY)
#: API keys inside longer text (a bare 40-hex run is left alone there: commit hashes are common in text).
EMBEDDED_KEYS = re.compile(
    rf"(?<![A-Za-z0-9_-]){_V1_KEY}"
    r"|(?<![A-Za-z0-9_-])[A-Za-z][A-Za-z0-9]{0,19}-[0-9a-fA-F]{40}(?![A-Za-z0-9_])"
)
BARE_HEX = re.compile(r"[0-9a-fA-F]{40}")
# scheme://user:password@host ("redis://:pw@r" has an empty user). Lenient on purpose: a password that should
# have been percent-encoded ("p#ss?") still ends at the "@" and is masked whole.
_URL_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)(?P<password>[^\s/@]+)(?=@)")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(key) if w]


def is_secret_key(key: object) -> bool:
    """True for keys like ``api_key``, ``apiKey``, ``AWS_SECRET_ACCESS_KEY``, ``hf_token``, ``password``,
    ``db_pass``, ``pwd``, ``pw``, ``passphrase``."""
    if not isinstance(key, str) or key in _NOT_SECRET_KEYS:
        return False
    words = _words(key)
    joined = "".join(words)
    if any(part in joined for part in _SECRET_KEY_PARTS) or _SECRET_WORDS.intersection(words):
        return True
    if "token" in words:
        i = words.index("token")
        before = words[i - 1] if i else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        return not (before in _TOKENIZER_TOKENS or after in {"id", "ids"})
    return False


def is_hash_key(key: object) -> bool:
    """Keys whose 40-hex values are content hashes (``commit``, ``sha``, ``digest``), not API keys."""
    return isinstance(key, str) and any(w in _HASH_WORDS for w in _words(key))


def looks_like_api_key(value: object) -> bool:
    """True when the whole string has the shape of a W&B API key (legacy, on-prem, ``wandb_v1_``)."""
    if not isinstance(value, str):
        return False
    v = value.strip()
    return bool(_LEGACY_KEY.fullmatch(v) or _V1_KEY_FULL.fullmatch(v))


def url_passwords(text: str) -> Iterator[str]:
    """The passwords in the userinfo of every URL in ``text`` (``postgresql://admin:PW@db/x``)."""
    for match in _URL_USERINFO.finditer(text):
        yield match.group("password")


def mask_url_passwords(text: str, mask: str = REDACTED) -> str:
    """``text`` with each URL's userinfo password replaced; the user name and host stay readable."""
    return _URL_USERINFO.sub(lambda m: m.group("head") + mask, text)
