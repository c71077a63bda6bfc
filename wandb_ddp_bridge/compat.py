"""``WandbManager``: the hand-written manager's method names, rebuilt on the phase-checked Session.

Migrating is one import change (see docs/migration.md). Every method maps onto a Session call; the
manager's classic mistakes (logging while training holds the run, preparing before initializing, finishing
twice, logging after finishing) raise :class:`~wandb_ddp_bridge.errors.PhaseError` naming the method to call
instead. Off the main process every method is a no-op (``initialize()`` returns ``(None, None)``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from os import PathLike
from typing import TYPE_CHECKING, Any

from .phases import Phase, Vocabulary, check_method, next_phase

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

    from .handoff import Handoff
    from .session import Session

__all__ = ["ARTIFACT_PATH_KEYS", "MANAGER", "WandbManager"]

log = logging.getLogger(__name__)

#: Keys of the config's ``wandb`` section that ``save_training_artifacts()`` reads, first one present wins.
ARTIFACT_PATH_KEYS = ("artifact_paths", "artifacts", "upload_paths")

#: How the manager's users name the moves: every refused call names the manager method to call instead.
MANAGER = Vocabulary(
    actions={
        "enter": "WandbManager.initialize()",
        "handoff": "WandbManager.prepare_for_training()",
        "return": "WandbManager.resume_after_training()",
        "exit": "WandbManager.finish()",
    },
    method="WandbManager.{name}()",
    start="call initialize() first",
    handoff="prepare_for_training()",
    take_back="call resume_after_training()",
    after_training="after training: call resume_after_training() first",
    not_started="the W&B run is not started yet",
    already_open="initialize() was already called",
    finished="the run is already finished (finish() was called)",
    finish_done="finish() was already called",
    finish_twice="remove the second call (or create a new WandbManager for a new run)",
    new="create a new WandbManager for a new run",
)


class WandbManager:
    """Drop-in for the hand-written manager: ``initialize``, ``save_*``, ``prepare_for_training``,
    ``resume_after_training``, ``log_s3_artifact``, ``finish`` — same names, same order, one run."""

    def __init__(
        self,
        cfg: Any,
        job_name: str | None = None,
        experiment_group_name: str | None = None,
        **overrides: Any,
    ) -> None:
        self.cfg = cfg
        self.job_name = job_name
        self.experiment_group_name = experiment_group_name
        self._overrides = overrides
        self._session: Session | None = None
        self._session_stack = ExitStack()
        self._handoff_stack = ExitStack()
        self._handoff: Handoff | None = None

    # ----------------------------------------------------------------------------------- state
    @property
    def phase(self) -> Phase:
        return self._session.phase if self._session is not None else Phase.NEW

    @property
    def session(self) -> Session | None:
        return self._session

    @property
    def run(self) -> Run | None:
        return self._session.run if self._session is not None else None

    @property
    def url(self) -> str | None:
        return self._session.url if self._session is not None else None

    def _require(self, method: str) -> Session:
        """The session, once the phase table allows ``method`` now (a PhaseError naming the fix otherwise)."""
        check_method(self.phase, method, MANAGER)
        assert self._session is not None  # every phase that allows a method has a session
        return self._session

    def _move(self, action: str) -> None:
        """Refuse ``action`` (enter/handoff/return/exit) unless the phase table allows it now."""
        next_phase(self.phase, action, MANAGER)

    # ------------------------------------------------------------------------------- lifecycle
    def initialize(self) -> tuple[Run | None, str | None]:
        """Create the run (name = job_name, group = experiment_group_name); ``(run, url)``."""
        self._move("enter")
        from .session import wandb_session

        overrides = {"name": self.job_name, "group": self.experiment_group_name, **self._overrides}
        session = wandb_session(self.cfg, **{k: v for k, v in overrides.items() if v is not None})
        self._session_stack.enter_context(session)
        self._session = session
        return session.run, session.url

    def prepare_for_training(self, model: Any = None) -> Handoff:
        """Hand the run to training (the old "finish and export env" step). Given the Ultralytics model,
        its training metrics land in this run; train, then call :meth:`resume_after_training`."""
        self._move("handoff")
        assert self._session is not None
        handoff = self._session.handoff(model)
        self._handoff = self._handoff_stack.enter_context(handoff)
        return self._handoff

    def resume_after_training(self) -> Run | None:
        """Take the run back after training (resumes the same run id); returns the run."""
        self._move("return")
        session = self._session
        assert session is not None
        self._handoff = None
        self._handoff_stack.close()
        return session.run

    def finish(self) -> None:
        """Finish the run, exactly once."""
        self._move("exit")
        self._session_stack.close()

    # --------------------------------------------------------------------------------- logging
    def save_config(self, raw_cfg: Any, key: str = "config") -> Any:
        """The config, secrets redacted, into ``run.config[key]`` and a ``config`` artifact."""
        return self._require("save_config").save_config(raw_cfg, key=key)

    def save_training_artifacts(
        self,
        paths: str | PathLike[str] | Iterable[str | PathLike[str]] | None = None,
        name: str = "training_artifacts",
        type: str = "dataset",
    ) -> Any:
        """Files/directories as one artifact. Without ``paths``: the config's ``wandb.artifact_paths``
        (or ``wandb.artifacts``/``wandb.upload_paths``); nothing is logged when it lists none."""
        session = self._require("save_training_artifacts")
        if paths is None:
            paths = configured_artifact_paths(self.cfg)
            if not paths:
                log.info(
                    "save_training_artifacts(): no paths given and none configured under wandb.%s",
                    "/".join(ARTIFACT_PATH_KEYS),
                )
                return None
        return session.save_artifacts(paths, name=name, type=type)

    def save_training_job_metadata(self, metadata: Mapping[str, Any] | None = None) -> Any:
        """Job metadata (caller's values plus git/host/launcher/versions) into config["job"] and summary."""
        return self._require("save_training_job_metadata").save_metadata(metadata)

    def log_s3_artifact(
        self,
        s3_path: str,
        artifact_name: str,
        artifact_type: str = "model",
        *,
        checksum: bool = False,
        aliases: Sequence[str] | None = None,
    ) -> Any:
        """A reference artifact for an S3 object or prefix (the seed's keyword names)."""
        session = self._require("log_s3_artifact")
        return session.log_s3_artifact(s3_path, artifact_name, artifact_type, checksum=checksum, aliases=aliases)

    def log_model(self, path: str | PathLike[str], name: str = "model", aliases: Iterable[str] = ("latest",)) -> Any:
        """A model file or directory as a ``model`` artifact."""
        return self._require("log_model").log_model(path, name, aliases=aliases)

    def log(self, data: Mapping[str, Any]) -> None:
        """Metrics (summary before training, history after; see the Session docs)."""
        self._require("log").log(data)


def configured_artifact_paths(cfg: Any) -> list[str]:
    """Paths listed under the first of :data:`ARTIFACT_PATH_KEYS` in ``cfg.wandb`` (or ``cfg["wandb"]``)."""
    from .artifacts import to_plain

    try:
        plain = to_plain(cfg) if cfg is not None and not isinstance(cfg, (str, PathLike)) else {}
    except Exception:
        return []
    section = plain.get("wandb") if isinstance(plain, dict) else None
    if not isinstance(section, dict):
        return []
    for key in ARTIFACT_PATH_KEYS:
        value = section.get(key)
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, list):
            return [str(v) for v in value if v]
    return []
