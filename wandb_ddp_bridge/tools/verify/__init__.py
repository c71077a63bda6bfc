"""Does one W&B run really hold the three phases? The checks shared by ``verify`` and ``demo``.

Three steps: :mod:`.collect_api` (through ``wandb.Api``) and :mod:`.collect_server` (the local server's own
records) collect what a backend knows, once, into the plain :class:`RunEvidence` of :mod:`.evidence`;
:mod:`.view` derives what the rules read (the training phase's rows and epochs, found by
:mod:`.training_rows`; phase spans from the markers; artifacts by phase);
:mod:`.rules` is the table of rules, run by :func:`check_run` into a :class:`Report`.
A report page renders the same evidence and view.
"""

from __future__ import annotations

from typing import Any

from .collect_api import from_api
from .collect_server import from_server, with_local_records, with_server_records
from .evidence import (
    ArtifactInfo,
    MediaInfo,
    ProcessInfo,
    RunEvidence,
    SessionInfo,
    SiblingInfo,
    WriterInfo,
    backend_of,
    parse_run_path,
)
from .report import Check, Report
from .rules import RULES, Rule, check_run
from .view import NO_EXPECTATIONS, Expectations, RunView, Stage, build_view, epochs_logged

__all__ = [
    "RULES",
    "ArtifactInfo",
    "Check",
    "Expectations",
    "MediaInfo",
    "ProcessInfo",
    "Report",
    "Rule",
    "RunEvidence",
    "RunView",
    "SessionInfo",
    "SiblingInfo",
    "Stage",
    "WriterInfo",
    "backend_of",
    "build_view",
    "check_run",
    "epochs_logged",
    "from_api",
    "from_server",
    "parse_run_path",
    "verify_run",
    "with_local_records",
    "with_server_records",
]


def verify_run(
    path: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    expect: Expectations = NO_EXPECTATIONS,
    server: Any = None,
    media_data: bool = False,
) -> Report:
    """Collect through ``wandb.Api`` and check. The local server's own records are added from ``server`` when
    given, else asked over HTTP when ``base_url`` is a local W&B server on loopback. ``media_data`` also
    downloads the run's images (for a self-contained page)."""
    evidence = from_api(path, base_url=base_url, api_key=api_key, media_data=media_data)
    if server is not None and evidence.found:
        evidence = with_server_records(evidence, server)
    elif server is None:
        evidence = with_local_records(evidence, base_url, api_key)
    return check_run(evidence, expect)
