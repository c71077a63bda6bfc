"""A run's recorded streams as the SDK reads them back: history pages and keys, stream tails, and the
client's own ``_wandb`` config.

A resuming client reads ``historyTail`` and ``wandbConfig`` to continue where it stopped; ``wandb.Api``
reads ``history`` and ``historyKeys``. All of it comes from the file_stream lines the store kept.
"""

from __future__ import annotations

import json
from typing import Any

from ..encoding import loads_or
from ..store import Store
from .context import Node

__all__ = ["history_keys", "history_lines", "stream_tail", "wandb_config"]


def wandb_config(config_text: str, args: dict[str, Any]) -> str | None:
    """``wandbConfig(keys:)``: the run config's ``_wandb`` entries (all, or those in ``keys``) as JSON."""
    raw = loads_or(config_text, {})
    wb = raw.get("_wandb") if isinstance(raw, dict) else None
    value = wb.get("value") if isinstance(wb, dict) else None
    if not isinstance(value, dict):
        return None
    keys = args.get("keys")
    picked = {k: v for k, v in value.items() if keys is None or k in keys}
    return json.dumps(picked) if picked else None


def history_lines(store: Store, run_pk: int, args: dict[str, Any]) -> list[str]:
    """``history(minStep:, maxStep:, samples:)``: the rows in the step range as JSON text, the first ``samples``."""
    rows = store.history_rows(run_pk, _int_or_none(args.get("minStep")), _int_or_none(args.get("maxStep")))
    samples = _int_or_none(args.get("samples"))
    if samples is not None:
        rows = rows[:samples]
    return [json.dumps(r) for r in rows]


def history_keys(store: Store, run_pk: int) -> Node:
    """``historyKeys``: every key in the history with the number of rows that carry it, and the last step."""
    rows = store.history_rows(run_pk)
    keys: dict[str, Any] = {}
    last = -1
    for r in rows:
        step = r.get("_step")
        if isinstance(step, int):
            last = max(last, step)
        for k in r:
            keys.setdefault(k, {"typeCounts": [{"type": "number", "count": 0}]})["typeCounts"][0]["count"] += 1
    return {"lastStep": last, "keys": keys}


def stream_tail(store: Store, run_pk: int, file: str) -> str:
    """The last ten lines of a stream (``historyTail``, ``eventsTail``) as a JSON list."""
    return json.dumps(store.lines(run_pk, file, last=10))


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
