"""What a backend knows about one run, collected once into a plain :class:`RunEvidence`.

``from_api`` works against any backend ``wandb.Api`` reaches (W&B cloud, W&B Server, the local server);
``from_server`` reads the local recording server's own records, and ``with_server_records`` adds what only
that server knows (how often the run was created, its writer sessions) to evidence from the Api. Nothing here
judges: the rules read the evidence, and a report page can render the same object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ...phases import FAILED_KEY, FAILURE_KEY, MARKERS_KEY

__all__ = [
    "ArtifactInfo",
    "RunEvidence",
    "SessionInfo",
    "SiblingInfo",
    "from_api",
    "from_server",
    "parse_run_path",
    "with_server_records",
]


@dataclass(frozen=True)
class ArtifactInfo:
    name: str  # collection name, without ":vN"
    type: str
    version: str | None = None
    created: float | None = None  # epoch seconds; None when the backend does not say
    #: when only the writer session that logged it is known (local server records): its start and end
    session_window: tuple[float | None, float | None] | None = None
    size: int | None = None  # bytes, when the backend says
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionInfo:
    """One writer session of the run, as the local server recorded it."""

    index: int
    started: float | None
    ended: float | None
    resume_mode: str
    exit_code: int | None
    complete: bool
    overlapping: bool
    #: who wrote: the client's user agent and host, as the server saw them (``None`` when unknown)
    user_agent: str | None = None
    client_host: str | None = None


@dataclass(frozen=True)
class SiblingInfo:
    """Another run in the same project (candidate for the "multiple runs" symptom)."""

    id: str
    name: str | None
    group: str | None
    created: float | None


@dataclass(frozen=True)
class RunEvidence:
    """What a backend knows about one run. Optional fields are ``None`` when the backend cannot tell."""

    path: str
    source: str
    found: bool
    url: str | None = None
    state: str | None = None
    name: str | None = None
    group: str | None = None
    created: float | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    history: Sequence[Mapping[str, Any]] = ()
    artifacts: Sequence[ArtifactInfo] = ()
    siblings: Sequence[SiblingInfo] | None = None
    siblings_error: str | None = None
    # local server only
    created_count: int | None = None
    resumed_count: int | None = None
    sessions: Sequence[SessionInfo] | None = None
    runs_on_backend: int | None = None
    error: str | None = None

    @property
    def markers(self) -> dict[str, float]:
        """The phase boundary times the session wrote into the summary (key -> epoch seconds)."""
        raw = self.summary.get(MARKERS_KEY)
        if not isinstance(raw, Mapping):
            return {}
        return {str(k): float(v) for k, v in raw.items() if isinstance(v, (int, float))}

    @property
    def failure(self) -> str | None:
        """Why the bridge recorded the run as failed, ``None`` when it did not."""
        if not self.summary.get(FAILED_KEY):
            return None
        return str(self.summary.get(FAILURE_KEY) or "no reason recorded")

    @property
    def user_config_keys(self) -> list[str]:
        return sorted(k for k in self.config if not str(k).startswith("_"))


def parse_run_path(path: str) -> tuple[str, str, str]:
    """``ENTITY/PROJECT/RUN_ID`` (a ``/runs/`` segment, as in run URLs, is accepted too)."""
    parts = [p for p in path.strip().strip("/").split("/") if p]
    if len(parts) == 4 and parts[2] == "runs":
        parts = [parts[0], parts[1], parts[3]]
    if len(parts) != 3:
        raise ValueError(f"run path {path!r} must look like ENTITY/PROJECT/RUN_ID")
    return parts[0], parts[1], parts[2]


def _timestamp(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)  # W&B reports UTC without an offset
        return parsed.timestamp()
    return None


def _plain(value: Any) -> Any:
    """A plain copy of what ``wandb.Api`` returns. Its summary objects have ``items()``/``keys()`` but are no
    ``Mapping``, so ``artifacts.redact.plain`` (which stringifies unknown objects) does not fit here."""
    if isinstance(value, Mapping) or (hasattr(value, "items") and hasattr(value, "keys")):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _size(art: Any) -> int | None:
    try:
        value = art.size
    except Exception:  # a display detail: never lose the evidence over it
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _aliases(art: Any) -> tuple[str, ...]:
    try:
        return tuple(str(a) for a in (art.aliases or ()))
    except Exception:
        return ()


def from_api(
    path: str, *, base_url: str | None = None, api_key: str | None = None, timeout: int = 30
) -> RunEvidence:
    """Collect evidence through ``wandb.Api`` (W&B cloud, a self-hosted server, the local server)."""
    import wandb

    entity, project, run_id = parse_run_path(path)
    overrides = {"base_url": base_url} if base_url else {}
    source = base_url or "the default W&B backend"
    try:
        api = wandb.Api(api_key=api_key, overrides=overrides, timeout=timeout)
        run = api.run(f"{entity}/{project}/{run_id}")
    except Exception as exc:  # the Api raises ValueError/CommError for a missing run or project
        return RunEvidence(
            path=path,
            source=source,
            found=False,
            error=f"no run {entity}/{project}/{run_id} on {source}: {exc}",
        )
    artifacts = []
    for art in run.logged_artifacts():
        name, _, version = str(art.name).partition(":")
        artifacts.append(
            ArtifactInfo(
                name=name,
                type=str(art.type),
                version=version or None,
                created=_timestamp(getattr(art, "created_at", None)),
                size=_size(art),
                aliases=_aliases(art),
            )
        )
    siblings: list[SiblingInfo] | None = None
    siblings_error = None
    try:
        siblings = [
            SiblingInfo(
                id=str(r.id),
                name=getattr(r, "name", None),
                group=getattr(r, "group", None),
                created=_timestamp(getattr(r, "created_at", None)),
            )
            for r in api.runs(f"{entity}/{project}", per_page=200)
            if r.id != run.id
        ]
    except Exception as exc:
        siblings_error = f"listing runs of {entity}/{project} failed: {exc}"
    return RunEvidence(
        path=f"{entity}/{project}/{run.id}",
        source=source,
        found=True,
        url=getattr(run, "url", None),
        state=str(run.state),
        name=getattr(run, "name", None),
        group=getattr(run, "group", None),
        created=_timestamp(getattr(run, "created_at", None)),
        config=_plain(run.config),
        summary=_plain(run.summary),
        history=[_plain(row) for row in run.scan_history()],
        artifacts=artifacts,
        siblings=siblings,
        siblings_error=siblings_error,
    )


def from_server(path: str, server: Any) -> RunEvidence:
    """Collect evidence from the local server's own records (no ``wandb.Api`` involved)."""
    source = f"local W&B server {server.url}"
    try:
        record = server.run(path)
    except KeyError as exc:
        return RunEvidence(path=path, source=source, found=False, error=str(exc.args[0]))
    windows = {s.index: (s.started, s.ended if s.ended is not None else s.last_seen) for s in record.sessions}
    artifacts = [
        ArtifactInfo(
            name=a.name,
            type=a.type,
            version=a.version,
            session_window=windows.get(a.session_index) if a.session_index is not None else None,
            size=sum(e.size or 0 for e in a.entries),
            aliases=tuple(a.aliases),
        )
        for a in record.artifacts
    ]
    siblings = [
        SiblingInfo(
            id=r.id, name=r.display_name, group=r.group, created=r.sessions[0].started if r.sessions else None
        )
        for r in server.runs(record.entity, record.project)
        if r.id != record.id
    ]
    evidence = RunEvidence(
        path=record.path,
        source=source,
        found=True,
        url=f"{server.url}/{record.entity}/{record.project}/runs/{record.id}",
        state=record.state,
        name=record.display_name,
        group=record.group,
        created=record.sessions[0].started if record.sessions else None,
        config=record.config,
        summary=record.summary,
        history=record.history,
        artifacts=artifacts,
        siblings=siblings,
    )
    return _add_records(evidence, record, server)


def with_server_records(evidence: RunEvidence, server: Any) -> RunEvidence:
    """Add what only the local recording server knows: creations, resumes, writer sessions, all runs."""
    return _add_records(evidence, server.run(evidence.path), server)


def _add_records(evidence: RunEvidence, record: Any, server: Any) -> RunEvidence:
    sessions = [
        SessionInfo(
            index=s.index,
            started=s.started,
            ended=s.ended,
            resume_mode=s.resume_mode,
            exit_code=s.exit_code,
            complete=s.complete,
            overlapping=s.overlapping,
            user_agent=s.user_agent,
            client_host=s.client_host,
        )
        for s in record.sessions
    ]
    return replace(
        evidence,
        created_count=record.created_count,
        resumed_count=record.resumed_count,
        sessions=sessions,
        runs_on_backend=len(list(server.runs())),
    )
