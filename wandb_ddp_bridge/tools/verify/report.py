"""The outcome of judging one run: a :class:`Check` per rule, and the text table ``verify`` prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .evidence import ArtifactInfo, RunEvidence
from .view import RunView

__all__ = ["Check", "Report"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: informational, does not decide the outcome
    detail: str


@dataclass(frozen=True)
class Report:
    """The checks, with the evidence and the view they were judged on (what a report page renders)."""

    evidence: RunEvidence
    checks: tuple[Check, ...]
    view: RunView

    @property
    def phases(self) -> Mapping[str, tuple[ArtifactInfo, ...]]:
        """Artifacts by phase: ``pre``, ``training``, ``post`` and ``unknown``."""
        return self.view.phases

    @property
    def passed(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def table(self) -> str:
        width = max(len(c.name) for c in self.checks)
        mark = {True: "PASS", False: "FAIL", None: "info"}
        lines = [f"  {mark[c.ok]}  {c.name.ljust(width)}  {c.detail}" for c in self.checks]
        verdict = "PASSED" if self.passed else "FAILED"
        failed = sum(1 for c in self.checks if c.ok is False)
        tail = "" if self.passed else f" ({failed} check{'s' if failed != 1 else ''} failed)"
        return "\n".join([*lines, f"verification {verdict}{tail}"])
