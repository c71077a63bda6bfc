"""Writer sessions: which client incarnation of a run sent each request, and whether two overlapped.

The wire carries no session id. A session starts at the UpsertBucket that creates or re-opens a run
and ends with the file_stream ``complete`` request. Each client process talks over its own TCP
connections (kept alive between requests), so a request is attributed to the session its connection
already served; a fresh connection goes to the run's newest open session. Two sessions overlap when
an older session still sends a request after a newer one of the same run started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .records import WriterProcess
from .store import Store

__all__ = ["SessionTracker"]

# A RunResumeStatus probe belongs to the UpsertBucket that follows it within this many seconds.
_PROBE_TTL = 120.0
# UpsertBucket fields that only `wandb.init` sends; config/metadata updates leave them null.
_INIT_FIELDS = ("host", "program", "jobType", "displayName", "groupName", "notes", "repo", "commit", "sweep")


class SessionTracker:
    def __init__(self, store: Store, *, identify: Callable[[str], WriterProcess | None] | None = None) -> None:
        self._store = store
        #: names the local process behind a peer ("ip:port") when a session opens (``procinfo``)
        self._identify = identify
        # The store's lock, not a second one: UpsertBucket reaches the tracker inside a store transaction.
        self._lock = store.lock
        self._conn: dict[str, int] = {}  # peer "ip:port" -> session pk
        self._probes: dict[tuple[str, str, str], tuple[float, bool]] = {}

    def forget_connection(self, peer: str) -> None:
        """The TCP connection closed; its port may be reused by another process."""
        with self._lock:
            self._conn.pop(peer, None)

    def note_probe(self, entity: str, project: str, run_id: str, found: bool) -> None:
        with self._lock:
            self._probes[(entity, project, run_id)] = (time.monotonic(), found)

    def _take_probe(self, entity: str, project: str, run_id: str) -> bool | None:
        probe = self._probes.pop((entity, project, run_id), None)
        if probe is None or time.monotonic() - probe[0] > _PROBE_TTL:
            return None
        return probe[1]

    def on_upsert(
        self,
        run: Any,
        *,
        created: bool,
        variables: dict[str, Any],
        peer: str,
        user_agent: str,
        writer_id: str | None,
        client_host: str | None,
    ) -> int | None:
        """Open a new session for an init-style UpsertBucket, or attribute an update. Returns its pk."""
        now = time.time()
        with self._lock:
            probe = self._take_probe(run["entity"], run["project"], run["run_id"])
            sessions = self._store.sessions_of(run["pk"])
            open_sessions = [s for s in sessions if not s["complete"]]
            mapped = self._conn.get(peer)
            on_open_conn = any(s["pk"] == mapped for s in open_sessions)
            init_like = any(variables.get(k) is not None for k in _INIT_FIELDS) or bool(variables.get("id"))
            starts = created or probe is not None or not open_sessions or (init_like and not on_open_conn)
            if not starts:
                pk = mapped if on_open_conn and mapped is not None else open_sessions[-1]["pk"]
                self._conn[peer] = pk
                self._store.touch_session(pk, now)
                if writer_id is not None:
                    # wandb-core sends its writer id with the first config update, not with init.
                    current = next(s for s in open_sessions if s["pk"] == pk)
                    if current["writer_id"] is None:
                        self._store.update_session(pk, writer_id=writer_id)
                return int(pk)
            mode = ("allow" if probe is not None else "none") if created else "must" if probe else "none"
            pk = self._store.open_session(
                run["pk"],
                now=now,
                resume_mode=mode,
                created=created,
                user_agent=user_agent,
                writer_id=writer_id,
                client_host=client_host,
                process=self._identify(peer) if self._identify is not None else None,
            )
            self._store.bump_run(run["pk"], "created_count" if created else "resumed_count")
            self._conn[peer] = pk
            return pk

    def attribute(self, run_pk: int, peer: str) -> int | None:
        """The session that sent this request (and flag an overlap if it is an older, still-open one)."""
        now = time.time()
        with self._lock:
            sessions = self._store.sessions_of(run_pk)
            if not sessions:
                return None
            by_pk = {s["pk"]: s for s in sessions}
            chosen = by_pk.get(self._conn.get(peer, -1))
            if chosen is None or (chosen["complete"] and chosen["pk"] != sessions[-1]["pk"]):
                open_sessions = [s for s in sessions if not s["complete"]]
                chosen = (open_sessions or sessions)[-1]
            self._conn[peer] = chosen["pk"]
            self._store.touch_session(chosen["pk"], now)
            newer = [s for s in sessions if s["idx"] > chosen["idx"]]
            if newer and not chosen["complete"] and not (chosen["overlapping"] and newer[0]["overlapping"]):
                with self._store.tx():
                    self._store.update_session(chosen["pk"], overlapping=1)
                    self._store.update_session(newer[0]["pk"], overlapping=1)
                self._store.add_event(
                    "overlapping_sessions",
                    None,
                    {"run_pk": run_pk, "older": chosen["idx"], "newer": newer[0]["idx"], "peer": peer},
                )
            return int(chosen["pk"])
