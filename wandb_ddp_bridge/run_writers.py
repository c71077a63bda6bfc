"""What a session writes into its run before and after training: history rows, summary, config, artifacts.

Every writer asks the session's run owner for its run at call time (``_writable_run``): the phase table
decides whether the call is allowed now, and off the main process the answer is ``None``, so each writer is a
no-op there and callers never branch on rank. Kept apart from ``session.py`` so the session stays a thin face
over its owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from os import PathLike
from typing import TYPE_CHECKING, Any

from . import _wandb
from .phases import Phase

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

    from .artifacts.redact import Redactor

__all__ = ["RunWriters", "SummaryView"]


class RunWriters:
    """The session's writing methods; the session supplies :attr:`phase` and ``_writable_run``."""

    @property
    def phase(self) -> Phase:
        raise NotImplementedError

    def _writable_run(self, method: str) -> Run | None:
        """Phase check, then the run to write to (``None`` off the main process)."""
        raise NotImplementedError

    @property
    def _redactor(self) -> Redactor:
        """The session's redactor: every secret the session has seen, hidden in whatever it writes."""
        raise NotImplementedError

    def log(self, data: Mapping[str, Any]) -> None:
        """Log metrics as one history row, like ``run.log()``, in PRE and POST; text values are redacted.

        Training's rows follow the PRE rows and the POST rows follow training's, even where training logs
        explicit steps (``step=epoch+1``): the attachment rebases them (docs/how-it-works.md)."""
        run = self._writable_run("log")
        if run is not None:
            run.log(redact_text_values(self._redactor, data))

    @property
    def summary(self) -> MutableMapping[str, Any]:
        """The run summary; writes are phase-checked when they happen."""
        return SummaryView(self)

    def save_config(self, cfg: Any, *, key: str = "config", artifact: bool = True) -> Any:
        """Store a redacted copy of ``cfg`` in the run config (under ``key``) and as a ``config`` artifact."""
        run = self._writable_run("save_config")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_config(run, cfg, key=key, artifact=artifact, redactor=self._redactor)

    def save_artifacts(
        self, paths: str | PathLike[str] | Iterable[str | PathLike[str]], *, name: str, type: str = "dataset"
    ) -> Any:
        """Files and directories as one artifact (unchanged content makes no new version)."""
        run = self._writable_run("save_artifacts")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_files(run, paths, name=name, type=type, redactor=self._redactor)

    def save_metadata(self, metadata: Mapping[str, Any] | None = None) -> Any:
        """Job metadata (git commit, versions, launcher, world size...) into config["job"] and the summary."""
        run = self._writable_run("save_metadata")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_metadata(run, metadata, redactor=self._redactor)

    def log_s3_artifact(
        self,
        s3_uri: str,
        name: str,
        type: str = "model",
        *,
        checksum: bool = False,
        aliases: Iterable[str] | None = None,
    ) -> Any:
        """An artifact holding a reference to an S3 object or prefix."""
        run = self._writable_run("log_s3_artifact")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_s3_reference(
            run, s3_uri, name=name, type=type, checksum=checksum, aliases=list(aliases) if aliases else None
        )

    def log_model(self, path: str | PathLike[str], name: str = "model", *, aliases: Iterable[str] = ("latest",)) -> Any:
        """A model file as a ``model`` artifact, e.g. ``s.log_model(h.result.best)``."""
        run = self._writable_run("log_model")
        if run is None:
            return None
        from . import artifacts

        return artifacts.log_model(run, path, name=name, aliases=tuple(aliases), redactor=self._redactor)


class SummaryView(MutableMapping[str, Any]):
    """``s.summary``: every operation is phase-checked when it happens (PRE/POST only, on every rank).

    On the main process it is the run's summary. Off it (no run) it is an empty, write-ignoring mapping:
    ``s.summary[k]`` returns ``None`` (so code written for rank 0 never raises ``KeyError`` elsewhere),
    ``k in s.summary`` is ``False``, ``get(k, default)`` returns ``default``, iteration is empty, writes and
    deletions do nothing.
    """

    def __init__(self, writers: RunWriters) -> None:
        self._writers = writers

    def _target(self) -> Any:
        run = self._writers._writable_run("summary")
        return run.summary if run is not None else None

    def __getitem__(self, key: str) -> Any:
        target = self._target()
        return target[key] if target is not None else None

    def __contains__(self, key: object) -> bool:
        target = self._target()
        return key in target.keys() if target is not None else False

    def get(self, key: str, default: Any = None) -> Any:
        target = self._target()
        if target is None:
            return default
        try:
            return target[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        target = self._target()
        if target is not None:
            del target[key]

    def __iter__(self) -> Iterator[str]:
        target = self._target()
        return iter(list(target.keys())) if target is not None else iter(())

    def __len__(self) -> int:
        target = self._target()
        return len(list(target.keys())) if target is not None else 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        run = self._writers._writable_run("summary")
        if run is not None:
            _wandb.update_summary(run, redact_text_values(self._writers._redactor, dict(*args, **kwargs)))


def redact_text_values(redactor: Redactor, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with its text values redacted. Only text: numbers stay numbers (a metric equal to a short
    secret is still a metric) and W&B media objects (images, tables) pass through untouched."""
    return {key: redactor.text(value) if isinstance(value, str) else value for key, value in data.items()}
