"""Fault injection: per-operation rules (status, latency, dropped connection) and outage windows.

Operations are GraphQL operation names (``"UpsertBucket"``), ``"file_stream"``, ``"upload"`` (PUTs),
``"download"`` (GETs), ``"telemetry"`` or ``"*"`` for every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FaultAction", "FaultRule", "Faults"]


@dataclass
class FaultRule:
    """Fail (or delay) the next ``times`` matching requests; ``times=None`` means every one."""

    operation: str = "*"
    status: int | None = 500
    times: int | None = 1
    latency: float = 0.0
    drop_connection: bool = False
    hits: int = 0

    def matches(self, operation: str) -> bool:
        return self.operation in ("*", operation)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def describe(self) -> str:
        parts = [f"op={self.operation}"]
        if self.drop_connection:
            parts.append("drop")
        elif self.status is not None:
            parts.append(f"status={self.status}")
        if self.latency:
            parts.append(f"latency={self.latency:g}s")
        return "rule(" + ",".join(parts) + ")"

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "status": self.status,
            "times": self.times,
            "latency": self.latency,
            "drop_connection": self.drop_connection,
        }


@dataclass(frozen=True)
class FaultAction:
    """What the server does to one request: wait ``latency``, then fail with ``status`` or drop it."""

    description: str
    latency: float = 0.0
    status: int | None = None
    drop_connection: bool = False

    @property
    def fails(self) -> bool:
        return self.drop_connection or self.status is not None


@dataclass
class _Outage:
    until: float
    status: int
    drop_connection: bool


@dataclass
class Faults:
    """The server's fault table. Rules are checked in the order they were added; first match wins."""

    rules: list[FaultRule] = field(default_factory=list)
    _outage: _Outage | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        operation: str = "*",
        *,
        status: int | None = 500,
        times: int | None = 1,
        latency: float = 0.0,
        drop_connection: bool = False,
    ) -> FaultRule:
        """Add a rule; ``status=None`` with ``latency`` only delays the request."""
        if status is None and not drop_connection and not latency:
            raise ValueError("a fault rule needs a status, drop_connection=True or a latency")
        rule = FaultRule(operation, status, times, float(latency), drop_connection)
        with self._lock:
            self.rules.append(rule)
        return rule

    def outage(self, seconds: float, *, status: int = 503, drop_connection: bool = False) -> None:
        """Fail every request (503, or a dropped connection) for the next ``seconds``."""
        with self._lock:
            self._outage = _Outage(time.monotonic() + seconds, status, drop_connection)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self._outage = None

    def decide(self, operation: str) -> FaultAction | None:
        """Consume and return the fault for this request, if any."""
        with self._lock:
            if self._outage is not None:
                if time.monotonic() < self._outage.until:
                    o = self._outage
                    desc = "outage(drop)" if o.drop_connection else f"outage(status={o.status})"
                    return FaultAction(desc, status=o.status, drop_connection=o.drop_connection)
                self._outage = None
            for rule in self.rules:
                if rule.exhausted or not rule.matches(operation):
                    continue
                rule.hits += 1
                return FaultAction(
                    rule.describe(),
                    latency=rule.latency,
                    status=None if rule.drop_connection else rule.status,
                    drop_connection=rule.drop_connection,
                )
        return None

    def apply_json(self, payload: dict[str, Any]) -> None:
        """Control-endpoint form (used by a spawned server): ``{"action": "add"|"outage"|"clear", ...}``."""
        action = payload.get("action")
        if action == "add":
            self.add(
                str(payload.get("operation", "*")),
                status=payload.get("status", 500),
                times=payload.get("times", 1),
                latency=float(payload.get("latency", 0.0)),
                drop_connection=bool(payload.get("drop_connection", False)),
            )
        elif action == "outage":
            self.outage(
                float(payload["seconds"]),
                status=int(payload.get("status", 503)),
                drop_connection=bool(payload.get("drop_connection", False)),
            )
        elif action == "clear":
            self.clear()
        else:
            raise ValueError(f"unknown fault action {action!r}; use add, outage or clear")
