"""Values as the server stores and answers them: W&B's opaque ids, and JSON text read without failing.

W&B ids are base64 of ``Kind:part:part``; the SDK hands them back (a run's storage id, an artifact id), so
the server both makes them (``gid``) and reads them (``ungid``). Stored JSON comes from clients, so reading
it falls back to a default instead of raising.
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["gid", "loads_or", "ungid"]


def gid(kind: str, *parts: object) -> str:
    """A W&B-style opaque id: base64 of ``Kind:part:part``."""
    raw = ":".join([kind, *(str(p) for p in parts)])
    return base64.b64encode(raw.encode()).decode()


def ungid(value: str) -> list[str]:
    """The parts of a ``gid`` (none when ``value`` is not one)."""
    try:
        return base64.b64decode(value.encode(), validate=True).decode().split(":")
    except (ValueError, UnicodeDecodeError):
        return []


def loads_or(text: str | None, default: Any) -> Any:
    """``json.loads(text)``, or ``default`` for empty or malformed text (records never fail to read)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
