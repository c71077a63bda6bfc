"""One report line of ``doctor`` and how the report is printed."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "mask", "render"]


@dataclass(frozen=True)
class Finding:
    """One report line. ``status``: ok, info, warn or fail; ``advice`` says what to do when not ok."""

    topic: str
    status: str
    detail: str
    advice: str = ""


def mask(secret: str) -> str:
    """``abcd…wxyz (40 chars)``: enough to tell keys apart, never enough to use one."""
    if len(secret) <= 8:
        return f"*** ({len(secret)} chars)"
    return f"{secret[:4]}…{secret[-4:]} ({len(secret)} chars)"


def render(findings: list[Finding]) -> str:
    width = max(len(f.topic) for f in findings)
    lines = []
    for f in findings:
        lines.append(f"  {f.status.upper():4}  {f.topic.ljust(width)}  {f.detail}")
        if f.advice and f.status in ("warn", "fail"):
            lines.append(f"        {''.ljust(width)}  -> {f.advice}")
    problems = sum(1 for f in findings if f.status in ("warn", "fail"))
    lines.append(f"{problems} problem line(s)" if problems else "no problems found")
    return "\n".join(lines)
