"""Does one W&B run really hold the three phases? The checks shared by ``verify`` and ``demo``.

Evidence is collected once into a :class:`RunEvidence` (from ``wandb.Api`` against any backend; the local
server can add what only it knows: how often the run was created, and its writer sessions), then judged by
:func:`check_run`, the only place the rules live. Phase boundaries come from the ``bridge_phases`` markers
the session writes into the summary; artifacts are put into a phase by their creation time when the backend
reports it, by type/name otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "ArtifactInfo",
    "Check",
    "Expectations",
    "Report",
    "RunEvidence",
    "SessionInfo",
    "SiblingInfo",
    "check_run",
    "epochs_logged",
    "from_api",
    "from_server",
    "parse_run_path",
    "verify_run",
    "with_server_records",
]

#: History keys that mark a row as a training epoch (Ultralytics' families).
EPOCH_METRIC_PREFIXES = ("train/", "metrics/", "val/", "lr/")
#: Seconds around the run's lifetime in which a sibling run counts as "created at the same time".
SIBLING_WINDOW_S = 120.0


@dataclass(frozen=True)
class ArtifactInfo:
    name: str  # collection name, without ":vN"
    type: str
    version: str | None = None
    created: float | None = None  # epoch seconds; None when the backend does not say
    #: when only the writer session that logged it is known (local server records): its start and end
    session_window: tuple[float | None, float | None] | None = None


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
        raw = self.summary.get("bridge_phases")
        if not isinstance(raw, Mapping):
            return {}
        return {str(k): float(v) for k, v in raw.items() if isinstance(v, (int, float))}

    @property
    def user_config_keys(self) -> list[str]:
        return sorted(k for k in self.config if not str(k).startswith("_"))


@dataclass(frozen=True)
class Expectations:
    epochs: int | None = None
    artifacts: tuple[str, ...] = ()
    #: secret values (e.g. the API key in use) that must appear nowhere in the run config
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: informational, does not decide the outcome
    detail: str


@dataclass(frozen=True)
class Report:
    evidence: RunEvidence
    checks: tuple[Check, ...]
    phases: Mapping[str, list[ArtifactInfo]]

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


# ----------------------------------------------------------------------------------------------- checks
def epochs_logged(history: Iterable[Mapping[str, Any]]) -> list[int]:
    """Distinct epoch numbers (1-based) that have a training-metric row: ``epoch`` key, else ``_step``
    (releases before 8.4.184 log with ``step=epoch+1``)."""
    seen: set[int] = set()
    for row in history:
        if not any(str(k).startswith(EPOCH_METRIC_PREFIXES) for k in row):
            continue
        value = row.get("epoch", row.get("_step"))
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            seen.add(int(value))
    return sorted(seen)


def _phase_of(
    artifact: ArtifactInfo,
    markers: Mapping[str, float],
    last_epoch_time: float | None,
    expected: Sequence[str],
) -> str:
    post_start = markers.get("post_start")
    if artifact.created is None and artifact.session_window is not None:
        by_session = _phase_of_session(artifact.session_window, markers)
        if by_session is not None:
            return by_session
    if artifact.created is not None:
        # backends that report whole seconds: the true time lies in [created, created + 1)
        width = 1.0 if float(artifact.created).is_integer() else 0.0
        if post_start is not None:
            if artifact.created >= post_start:
                return "post"
            if artifact.created + width <= post_start:
                return _before_post(artifact, markers)
            return _by_kind(artifact, expected)
        if last_epoch_time is not None:
            return "post" if artifact.created > last_epoch_time else _before_post(artifact, markers)
    return _by_kind(artifact, expected)


def _by_kind(artifact: ArtifactInfo, expected: Sequence[str]) -> str:
    """No usable time: configs belong to pre-training, artifacts the caller expects to post-training."""
    if artifact.type == "config":
        return "pre"
    if artifact.name in expected:
        return "post"
    return "unknown"


def _phase_of_session(window: tuple[float | None, float | None], markers: Mapping[str, float]) -> str | None:
    """The phase of the writer session that logged an artifact: the session holding the pre_start marker
    is the pre phase, the one holding post_start the post phase, one between them training. A session
    holding both (in-process fast path: one writer throughout) says nothing."""
    started, ended = window
    if started is None:
        return None
    end = ended if ended is not None else float("inf")
    pre, post, training = markers.get("pre_start"), markers.get("post_start"), markers.get("training_start")
    has_pre = pre is not None and started <= pre <= end
    has_post = post is not None and (started <= post <= end or started >= post)
    if has_pre != has_post:
        return "pre" if has_pre else "post"
    if not has_pre and training is not None and started >= training:
        return "training"
    return None


def _before_post(artifact: ArtifactInfo, markers: Mapping[str, float]) -> str:
    start = markers.get("training_start")
    if artifact.type == "config" or start is None or artifact.created is None or artifact.created < start:
        return "pre"
    return "training"


def check_run(evidence: RunEvidence, expect: Expectations = Expectations()) -> Report:
    """Judge the evidence: one :class:`Check` per rule, in a fixed order."""
    checks: list[Check] = []
    add = checks.append
    empty: dict[str, list[ArtifactInfo]] = {"pre": [], "training": [], "post": [], "unknown": []}
    if not evidence.found:
        add(Check("one run", False, evidence.error or f"no run {evidence.path} on {evidence.source}"))
        return Report(evidence, tuple(checks), empty)

    # -- one run, created once
    if evidence.runs_on_backend is not None:
        ok = evidence.runs_on_backend == 1
        add(Check("runs created", ok, f"{evidence.runs_on_backend} run(s) on the backend (must be 1)"))
    if evidence.created_count is not None:
        ok = evidence.created_count == 1
        add(
            Check(
                "one run",
                ok,
                f"{evidence.path}: created {evidence.created_count}x (must be 1), "
                f"resumed {evidence.resumed_count or 0}x",
            )
        )
    else:
        add(Check("one run", True, f"{evidence.path} exists"))

    # -- state
    add(
        Check(
            "state",
            evidence.state == "finished",
            f"{evidence.state!r}"
            + (
                ""
                if evidence.state == "finished"
                else " (must be 'finished': the run did not end cleanly or is still open)"
            ),
        )
    )

    markers = evidence.markers
    epochs = epochs_logged(evidence.history)
    epoch_rows = [r for r in evidence.history if any(str(k).startswith(EPOCH_METRIC_PREFIXES) for k in r)]
    times = [float(r["_timestamp"]) for r in epoch_rows if isinstance(r.get("_timestamp"), (int, float))]
    last_epoch_time = max(times) if times else None
    phases: dict[str, list[ArtifactInfo]] = {"pre": [], "training": [], "post": [], "unknown": []}
    for art in evidence.artifacts:
        phases[_phase_of(art, markers, last_epoch_time, expect.artifacts)].append(art)

    # -- pre phase
    keys = evidence.user_config_keys
    pre_arts = phases["pre"]
    problems = []
    if not keys:
        problems.append("run config is empty")
    if not pre_arts:
        problems.append("no artifact logged before training")
    shown_keys = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
    add(
        Check(
            "pre phase",
            not problems,
            "; ".join(problems) if problems else f"config keys [{shown_keys}]; artifacts {_names(pre_arts)}",
        )
    )

    # -- training: every epoch
    wanted = expect.epochs or _configured_epochs(evidence.config) or (max(epochs) if epochs else None)
    if not epochs:
        add(Check("training", False, "no training metrics in history (no row with train/*, metrics/*, lr/*)"))
    else:
        missing = sorted(set(range(1, (wanted or 0) + 1)) - set(epochs))
        ok = not missing
        detail = f"{len(set(epochs) & set(range(1, (wanted or 0) + 1)))} of {wanted} epochs logged"
        if missing:
            detail += f" (missing epoch{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))})"
        add(Check("training", ok, detail))

    # -- post phase
    post_arts = phases["post"]
    problems = []
    if markers and "post_start" not in markers:
        problems.append("never resumed after training (summary bridge_phases has no post_start)")
    if not post_arts:
        problems.append("no artifact logged after training")
    add(
        Check(
            "post phase", not problems, "; ".join(problems) if problems else f"artifacts {_names(post_arts)}"
        )
    )

    # -- expected artifacts
    if expect.artifacts:
        present = {a.name for a in evidence.artifacts}
        missing_names = [n for n in expect.artifacts if n not in present]
        add(
            Check(
                "artifacts",
                not missing_names,
                f"missing {', '.join(missing_names)} (logged: {', '.join(sorted(present)) or 'none'})"
                if missing_names
                else f"all expected present: {', '.join(expect.artifacts)}",
            )
        )

    # -- secrets in the config
    add(_secrets_check(evidence.config, expect.secrets))

    # -- sibling runs ("multiple runs")
    add(_sibling_check(evidence, markers, last_epoch_time))

    # -- writer sessions (local server only)
    if evidence.sessions is not None:
        add(_writer_check(evidence.sessions))
    return Report(evidence, tuple(checks), phases)


def _names(arts: Sequence[ArtifactInfo]) -> str:
    return "[" + ", ".join(f"{a.name} ({a.type})" for a in arts) + "]"


def _configured_epochs(config: Mapping[str, Any]) -> int | None:
    value = config.get("epochs")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _sibling_check(evidence: RunEvidence, markers: Mapping[str, float], last: float | None) -> Check:
    if evidence.siblings is None:
        return Check(
            "sibling runs", None, f"not checked: {evidence.siblings_error or 'backend cannot list runs'}"
        )
    start = evidence.created if evidence.created is not None else (min(markers.values()) if markers else None)
    ends = [t for t in (max(markers.values()) if markers else None, last) if t is not None]
    end = max(ends) if ends else start
    suspects = []
    for sib in evidence.siblings:
        same = (evidence.name and sib.name == evidence.name) or (
            evidence.group and sib.group == evidence.group
        )
        if not same:
            continue
        if sib.created is None or start is None or end is None:
            in_window = True
        else:
            in_window = start - SIBLING_WINDOW_S <= sib.created <= end + SIBLING_WINDOW_S
        if in_window:
            how = "name" if evidence.name and sib.name == evidence.name else "group"
            suspects.append(f"{sib.id} (same {how}, created {_clock(sib.created)})")
    if suspects:
        return Check(
            "sibling runs",
            False,
            f"{len(suspects)} other run(s) in the project from the same time window: "
            + "; ".join(suspects)
            + " -- the 'multiple runs' symptom",
        )
    return Check(
        "sibling runs", True, f"none with the same name/group among {len(evidence.siblings)} other run(s)"
    )


def _secrets_check(config: Mapping[str, Any], secrets: Sequence[str]) -> Check:
    from .artifacts.redact import REDACTED, is_secret_key

    leaks: list[str] = []
    redacted: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                here = f"{where}.{key}" if where else str(key)
                if is_secret_key(key) and isinstance(value, str) and value:
                    (redacted if value == REDACTED else leaks).append(here)
                else:
                    walk(value, here)
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")
        elif isinstance(node, str) and any(secret and secret in node for secret in secrets):
            leaks.append(where)

    walk(config, "")
    if leaks:
        return Check("secrets", False, "secret value stored in the run config at " + ", ".join(leaks))
    if redacted:
        return Check("secrets", True, "redacted: " + ", ".join(redacted))
    return Check("secrets", True, "no secret-named config keys")


def _writer_check(sessions: Sequence[SessionInfo]) -> Check:
    if not sessions:
        return Check("writers", False, "the server recorded no writer session")
    problems = []
    if any(s.overlapping for s in sessions):
        problems.append("two writer sessions overlapped in time")
    open_ = [s.index for s in sessions if not s.complete]
    if open_:
        problems.append(f"session(s) {open_} never completed")
    if sessions[-1].exit_code not in (0, None):
        problems.append(f"last session exit code {sessions[-1].exit_code}")
    detail = f"{len(sessions)} session(s), one after another" if not problems else "; ".join(problems)
    return Check("writers", not problems, detail)


def _clock(t: float | None) -> str:
    return "at an unknown time" if t is None else datetime.fromtimestamp(t).strftime("%H:%M:%S")


# ----------------------------------------------------------------------------------------- collecting
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
    if isinstance(value, Mapping) or (hasattr(value, "items") and hasattr(value, "keys")):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


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
    return with_server_records(evidence, server)


def with_server_records(evidence: RunEvidence, server: Any) -> RunEvidence:
    """Add what only the local recording server knows: creations, resumes, writer sessions, all runs."""
    record = server.run(evidence.path)
    sessions = [
        SessionInfo(
            index=s.index,
            started=s.started,
            ended=s.ended,
            resume_mode=s.resume_mode,
            exit_code=s.exit_code,
            complete=s.complete,
            overlapping=s.overlapping,
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


def verify_run(
    path: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    expect: Expectations = Expectations(),
    server: Any = None,
) -> Report:
    """Collect through ``wandb.Api`` (plus ``server``'s records when given) and check."""
    evidence = from_api(path, base_url=base_url, api_key=api_key)
    if server is not None and evidence.found:
        evidence = with_server_records(evidence, server)
    return check_run(evidence, expect)
