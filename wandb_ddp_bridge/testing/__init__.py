"""Offline proof rig: a local W&B-protocol recording server and its pytest fixture.

Standard library only: importing this package never imports wandb, torch or ultralytics.
"""

from __future__ import annotations

from .child_process import RemoteFaults
from .endpoints import Page, PageRenderer
from .faults import FaultRule, Faults
from .records import (
    ArtifactEntry,
    ArtifactRecord,
    FileRecord,
    RequestRecord,
    RunListing,
    RunRecord,
    ServerEvent,
    SessionRecord,
    WriterProcess,
)
from .server import LocalWandbServer, ServerNotRunningError

__all__ = [
    "ArtifactEntry",
    "ArtifactRecord",
    "FaultRule",
    "Faults",
    "FileRecord",
    "LocalWandbServer",
    "Page",
    "PageRenderer",
    "RemoteFaults",
    "RequestRecord",
    "RunListing",
    "RunRecord",
    "ServerEvent",
    "ServerNotRunningError",
    "SessionRecord",
    "WriterProcess",
]
