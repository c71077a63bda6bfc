"""Immutable records the recording server hands to tests (read from its SQLite store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ArtifactEntry",
    "ArtifactRecord",
    "FileRecord",
    "RequestRecord",
    "RunListing",
    "RunRecord",
    "ServerEvent",
    "SessionRecord",
    "WriterProcess",
]


@dataclass(frozen=True)
class WriterProcess:
    """The local process that opened a writer session, as the server saw it (Linux ``/proc``).

    ``pid``/``command`` are the program that called ``wandb.init``; ``via`` names the process whose connection
    the server saw (wandb's ``wandb-core`` service) when it is not the program itself. ``env`` holds only the
    launcher's rank variables (``RANK``, ``WORLD_SIZE``, ``SLURM_PROCID``...) from that environment.
    """

    pid: int
    command: str
    via: str | None = None
    via_pid: int | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionRecord:
    """One client incarnation of a run: from the UpsertBucket that opened it to its final file_stream.

    ``resume_mode`` is what the wire shows: ``"none"`` (no RunResumeStatus probe before it),
    ``"allow"`` (probed, the run did not exist, so it was created) or ``"must"`` (probed and an
    existing run was resumed; ``resume="allow"`` on an existing run looks identical on the wire).
    """

    index: int
    started: float
    last_seen: float
    ended: float | None
    resume_mode: str
    created: bool
    exit_code: int | None
    complete: bool
    preempting: bool
    user_agent: str
    writer_id: str | None
    client_host: str | None
    overlapping: bool
    #: the local process that opened it, when the server could tell (``None`` otherwise)
    process: WriterProcess | None = None

    @property
    def open(self) -> bool:
        return not self.complete


@dataclass(frozen=True)
class ArtifactEntry:
    """One manifest entry; ``ref`` is set for reference entries (``s3://...``)."""

    path: str
    digest: str
    size: int | None
    ref: str | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    id: str
    entity: str
    project: str
    name: str
    type: str
    version_index: int
    digest: str
    state: str
    aliases: tuple[str, ...]
    entries: tuple[ArtifactEntry, ...]
    uploaded_files: tuple[str, ...]
    description: str | None
    metadata: dict[str, Any]
    run_path: str | None
    session_index: int | None
    used_by: tuple[str, ...]

    @property
    def version(self) -> str:
        return f"v{self.version_index}"

    @property
    def qualified_name(self) -> str:
        return f"{self.name}:v{self.version_index}"

    def entry(self, path: str) -> ArtifactEntry:
        for e in self.entries:
            if e.path == path:
                return e
        raise KeyError(f"{self.qualified_name} has no entry {path!r}; entries: {[e.path for e in self.entries]}")


@dataclass(frozen=True)
class FileRecord:
    name: str
    size: int | None
    uploaded: bool
    session_index: int | None


@dataclass(frozen=True)
class RunRecord:
    """Everything the server holds about one run (entity/project/id)."""

    entity: str
    project: str
    id: str
    storage_id: str
    display_name: str | None
    config: dict[str, Any]
    raw_config: dict[str, Any]
    summary: dict[str, Any]
    history: list[dict[str, Any]]
    events: list[dict[str, Any]]
    output: list[str]
    sessions: list[SessionRecord]
    artifacts: list[ArtifactRecord]
    files: list[FileRecord]
    state: str
    created_count: int
    resumed_count: int
    overlapping: bool
    tags: list[str] = field(default_factory=list)
    job_type: str | None = None
    group: str | None = None
    notes: str | None = None
    sweep: str | None = None  # the sweep's name, for a run a sweep agent started

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def steps(self) -> list[int | None]:
        return [row.get("_step") for row in self.history]

    @property
    def exit_code(self) -> int | None:
        return self.sessions[-1].exit_code if self.sessions else None


@dataclass(frozen=True)
class RunListing:
    """One line about a run, cheap to list (no history read): what an index of runs shows."""

    entity: str
    project: str
    id: str
    display_name: str | None
    group: str | None
    state: str
    started: float | None  # when its first writer session opened
    sessions: int
    created_count: int
    resumed_count: int

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request as received (no headers kept: they carry the API key)."""

    time: float
    method: str
    path: str
    operation: str | None
    user_agent: str
    status: int
    body_size: int
    duration_ms: float
    fault: str | None
    run_path: str | None
    peer: str


@dataclass(frozen=True)
class ServerEvent:
    """Something tests may want to fail on: ``unknown_operation``, ``auth_failure``, ``overlap``..."""

    time: float
    kind: str
    operation: str | None
    detail: dict[str, Any]
