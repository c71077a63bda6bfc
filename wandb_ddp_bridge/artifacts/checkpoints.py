"""The run's checkpoint artifact: one artifact (type ``model``) per run, one version per checkpointed epoch.

Versions carry the aliases ``latest``, ``epoch-<n>`` and (while it is the best so far) ``best``; a restart on
another machine finds ``latest`` again through ``use_artifact`` (so the run's lineage shows the use). With an
``s3://`` destination the file goes to ``<prefix>/<run id>/epoch-<n>/last.pt`` and the version is a
checksummed reference to it. Versions beyond ``keep`` are deleted, S3 objects with them, except ``best``.
Framework-free: the integration says which file, which epoch and how good it was.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .logged import log_built, new_artifact
from .s3 import parse_s3_uri, require_boto3

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

log = logging.getLogger(__name__)

__all__ = [
    "CHECKPOINT_FILE",
    "CheckpointStore",
    "FetchedCheckpoint",
    "RunCheckpoint",
    "artifact_name",
    "check_destination",
    "fetch",
    "latest_checkpoint",
]

CHECKPOINT_FILE = "last.pt"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def artifact_name(run_id: str) -> str:
    """The name of the run's checkpoint artifact (one per run, in the run's project)."""
    return "checkpoint-" + _NAME_UNSAFE.sub("_", run_id)


@dataclass(frozen=True)
class FetchedCheckpoint:
    """A checkpoint the run held, downloaded: where it lies now and what its version says about it."""

    path: Path
    epoch: int
    version: str


@dataclass
class CheckpointStore:
    """Publishes checkpoint versions of one run and prunes old ones. ``publish`` runs on the uploader thread."""

    run: Run
    destination: str
    keep: int
    _pruned_below: int = field(default=0, init=False)
    _api: Any = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return artifact_name(self.run.id)

    def publish(self, path: Path, *, epoch: int, best: bool, metadata: Mapping[str, Any]) -> str:
        """Log ``path`` as the version of ``epoch``; returns the version (``v3``). Then prune old versions."""
        aliases = ["latest", f"epoch-{epoch}", *(["best"] if best else [])]
        described = {**metadata, "run_id": self.run.id, "epoch": epoch}
        art = new_artifact(self.name, "model", metadata=described)
        if self.destination == "wandb":
            art.add_file(str(path), name=CHECKPOINT_FILE, policy="immutable")
        else:
            uri = self._upload_to_s3(path, epoch)
            art.add_reference(uri, name=CHECKPOINT_FILE, checksum=True)
        logged = log_built(self.run, art, aliases=aliases, wait=True)
        version = str(logged.version)
        log.debug("checkpoint of epoch %d is %s:%s", epoch, self.name, version)
        self._prune(int(version.lstrip("v")))
        return version

    def _upload_to_s3(self, path: Path, epoch: int) -> str:
        bucket, prefix = _bucket_and_prefix(self.destination)
        key = f"{prefix}{self.run.id}/epoch-{epoch}/{CHECKPOINT_FILE}"
        s3_client().upload_file(str(path), bucket, key)
        return f"s3://{bucket}/{key}"

    def _prune(self, newest: int) -> None:
        """Delete versions older than the ``keep`` newest, except the one aliased ``best``. Versions below
        ``_pruned_below`` are known gone, so each prune looks at the few new candidates only, and an epoch with
        none (the first ``keep`` ones) makes no request at all."""
        candidates = range(self._pruned_below, newest - self.keep + 1)
        if not candidates:
            return
        if self._api is None:  # one client for the training: building one costs a request and ~10-100 ms
            self._api = _public_api(self.run)
        path = f"{self.run.entity}/{self.run.project}/{self.name}"
        everything_below_gone = True
        for index in candidates:
            kept = _delete_unless_best(self._api, f"{path}:v{index}")
            everything_below_gone = everything_below_gone and not kept
            if everything_below_gone:
                self._pruned_below = index + 1


def _delete_unless_best(api: Any, qualified: str) -> bool:
    """Delete one old version (and its S3 objects); whether it was kept because it is ``best``."""
    old = _artifact_or_none(api, qualified)
    if old is None:
        return False  # deleted by an earlier prune (another attempt's)
    if "best" in old.aliases:
        return True
    _delete_s3_objects(old)
    old.delete(delete_aliases=True)
    log.debug("checkpoint retention: deleted %s", qualified)
    return False


def _artifact_or_none(api: Any, qualified: str) -> Any:
    """``api.artifact(qualified)``, or ``None`` when there is no such version: one request where
    ``artifact_exists`` followed by ``artifact`` makes two. Transport errors still raise, as there."""
    import wandb

    try:
        return api.artifact(qualified)
    except wandb.errors.CommError as exc:
        if _is_transport_error(exc):
            raise
        return None


def _is_transport_error(exc: Any) -> bool:
    """Whether a ``CommError`` is the server unreachable (W&B's own test, where this release has it)."""
    try:
        from wandb.apis.public.api import _is_service_api_transport_error
    except ImportError:  # older clients: every CommError of a lookup meant "not found" there
        return False
    return bool(_is_service_api_transport_error(exc.exc))


@dataclass(frozen=True)
class RunCheckpoint:
    """The run's ``latest`` checkpoint version, looked up (nothing downloaded, no use recorded yet)."""

    name: str
    version: str
    epoch: int


def latest_checkpoint(run: Run) -> RunCheckpoint | None:
    """The run's ``latest`` checkpoint version, or ``None`` if it has none.

    A version whose metadata names another run is refused: resuming it would graft another training onto
    this run."""
    name = artifact_name(run.id)
    path = f"{run.entity}/{run.project}/{name}:latest"
    art = _artifact_or_none(_public_api(run), path)
    if art is None:
        return None
    metadata = art.metadata or {}
    owner = metadata.get("run_id")
    if owner != run.id:
        raise ConfigError(
            f"the checkpoint artifact {name}:{art.version} belongs to run {owner!r}, not to this run "
            f"{run.id!r}: it was logged by another run under this run's checkpoint name. Delete or rename that "
            f"artifact, or continue run {owner!r} with wandb_session(..., run_id={owner!r})."
        )
    return RunCheckpoint(name=name, version=art.version, epoch=int(metadata.get("epoch", 0)))


def fetch(run: Run, checkpoint: RunCheckpoint, *, root: Path) -> FetchedCheckpoint:
    """Download ``checkpoint`` under ``root`` through ``use_artifact``, so the run's lineage shows the use."""
    art = run.use_artifact(f"{checkpoint.name}:{checkpoint.version}")
    folder = Path(art.download(root=str(root / f"{checkpoint.name}-{checkpoint.version}")))
    return FetchedCheckpoint(path=folder / CHECKPOINT_FILE, epoch=checkpoint.epoch, version=checkpoint.version)


def check_destination(destination: str) -> None:
    """Fail before training when an ``s3://`` destination's bucket cannot be reached or written to."""
    if destination == "wandb":
        return
    bucket, _ = _bucket_and_prefix(destination)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3_client().head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(
            f"checkpoints={destination!r}: bucket {bucket!r} is unreachable or denied ({exc}). Check the "
            "bucket name, AWS credentials and region (or AWS_ENDPOINT_URL for an S3-compatible store), or set "
            "checkpoints='wandb' to keep checkpoints in W&B"
        ) from None


def s3_client() -> Any:
    """A boto3 S3 client with the W&B client's endpoint rules (``AWS_S3_ENDPOINT_URL``, ``AWS_ENDPOINT_URL``)."""
    boto3 = require_boto3()
    return boto3.session.Session().client(
        "s3",
        endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or None,
    )


def _bucket_and_prefix(destination: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b/")``; ``s3://bucket`` -> ``("bucket", "")`` (validated by the
    config already)."""
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _delete_s3_objects(artifact: Any) -> None:
    for entry in artifact.manifest.entries.values():
        ref = getattr(entry, "ref", None)
        if isinstance(ref, str) and ref.startswith("s3://"):
            uri = parse_s3_uri(ref.split("?", 1)[0])
            s3_client().delete_object(Bucket=uri.bucket, Key=uri.key)


def _public_api(run: Run) -> Any:
    import wandb

    return wandb.Api(overrides={"base_url": run.settings.base_url}, timeout=30)
