"""Does one W&B run really hold the three phases? The checks shared by ``verify`` and ``demo``.

Three steps, one module each: :mod:`.evidence` collects what a backend knows into a plain
:class:`RunEvidence` (once); :mod:`.view` derives what the rules read (epochs, phase spans from the markers,
artifacts by phase); :mod:`.rules` is the table of rules, run by :func:`check_run` into a :class:`Report`.
A report page renders the same evidence and view.
"""

from __future__ import annotations

from typing import Any

from .evidence import (
    ArtifactInfo,
    RunEvidence,
    SessionInfo,
    SiblingInfo,
    from_api,
    from_server,
    parse_run_path,
    with_server_records,
)
from .report import Check, Report
from .rules import RULES, Rule, check_run
from .view import NO_EXPECTATIONS, Expectations, RunView, Stage, build_view, epochs_logged

__all__ = [
    "RULES",
    "ArtifactInfo",
    "Check",
    "Expectations",
    "Report",
    "Rule",
    "RunEvidence",
    "RunView",
    "SessionInfo",
    "SiblingInfo",
    "Stage",
    "build_view",
    "check_run",
    "epochs_logged",
    "from_api",
    "from_server",
    "parse_run_path",
    "verify_run",
    "with_server_records",
]


def verify_run(
    path: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    expect: Expectations = NO_EXPECTATIONS,
    server: Any = None,
) -> Report:
    """Collect through ``wandb.Api`` (plus ``server``'s records when given) and check."""
    evidence = from_api(path, base_url=base_url, api_key=api_key)
    if server is not None and evidence.found:
        evidence = with_server_records(evidence, server)
    return check_run(evidence, expect)
