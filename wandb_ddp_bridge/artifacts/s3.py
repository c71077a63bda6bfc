"""Reference artifacts for objects and prefixes in S3 or any S3-compatible store.

The URI is validated and (with ``checksum=True``) every object is looked up before anything is logged, so a
bad URI or a missing object never leaves a half-logged artifact. W&B's client needs boto3 for every ``s3://``
reference, even without checksums (then it makes no network call): boto3 is the ``s3`` extra.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from wandb import Artifact
    from wandb.sdk.wandb_run import Run

__all__ = ["S3_INSTALL_HINT", "S3ObjectNotFoundError", "S3Uri", "log_s3_reference", "parse_s3_uri"]

log = logging.getLogger(__name__)

S3_INSTALL_HINT = 'pip install "wandb-ddp-bridge[s3]"'

# Bucket naming rules of AWS S3 (3-63 chars; lowercase letters, digits, dots, hyphens; alnum at both ends).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class S3ObjectNotFoundError(FileNotFoundError):
    """``checksum=True`` found no object at the URI (and no object below it, for a prefix)."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith("/")

    def __str__(self) -> str:
        suffix = f"?versionId={self.version_id}" if self.version_id else ""
        return f"s3://{self.bucket}/{self.key}{suffix}"


def parse_s3_uri(uri: str) -> S3Uri:
    """Parse ``s3://bucket/key`` or ``s3://bucket/prefix/`` (``?versionId=`` allowed); ConfigError if bad."""

    def bad(why: str) -> ConfigError:
        return ConfigError(f"invalid S3 URI {uri!r}: {why}; expected s3://<bucket>/<key> or s3://<bucket>/<prefix>/")

    if not isinstance(uri, str):
        raise ConfigError(f"an S3 URI must be a string like 's3://bucket/key', got {type(uri).__name__}")
    if not uri.startswith("s3://"):
        raise bad("it must start with 's3://'")
    if uri != uri.strip() or any(c.isspace() or ord(c) < 32 for c in uri):
        raise bad("it contains whitespace or control characters")
    rest = uri[len("s3://") :]
    rest, _, query = rest.partition("?")
    version_id = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or not value or "&" in value:
            raise bad("the only query parameter allowed is '?versionId=<id>'")
        version_id = value
    if "#" in rest:
        raise bad("it contains '#'")
    bucket, sep, key = rest.partition("/")
    if not bucket:
        raise bad("the bucket name is missing")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise bad(f"{bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, '.' or '-')")
    if not sep or not key:
        raise bad("the object key is missing (a whole bucket cannot be referenced)")
    if key.startswith("/"):
        raise bad("the key starts with '/' (double slash after the bucket)")
    if version_id and key.endswith("/"):
        raise bad("a versionId needs an object key, not a prefix")
    return S3Uri(bucket=bucket, key=key, version_id=version_id)


def require_boto3() -> Any:
    """Import boto3 or raise an ImportError with the exact install line."""
    try:
        import boto3
    except ImportError:
        raise ImportError(
            f"S3 references need boto3, which the W&B client requires for every s3:// URI. "
            f"Install the extra: {S3_INSTALL_HINT}"
        ) from None
    return boto3


def log_s3_reference(
    run: Run,
    uri: str,
    *,
    name: str,
    type: str = "model",
    checksum: bool = False,
    aliases: Sequence[str] | None = None,
    max_objects: int | None = None,
    wait: bool = False,
) -> Artifact:
    """Log an artifact referencing ``uri``. ``checksum=False``: no network, the entry's digest is the URI.
    ``checksum=True``: boto3 looks the object(s) up (honouring ``AWS_ENDPOINT_URL``/``AWS_S3_ENDPOINT_URL``)
    and the entries carry etag and size; a missing object raises :class:`S3ObjectNotFoundError`."""
    parsed = parse_s3_uri(uri)
    require_boto3()
    from .logged import log_built as _log
    from .logged import new_artifact as _new_artifact

    art = _new_artifact(name, type)
    if checksum:
        _check_exists(parsed)
    try:
        # An object keeps its base name as entry name with or without checksums (W&B would use the whole
        # key without them); a prefix keeps W&B's layout.
        entry_name = None if parsed.is_prefix or checksum else PurePosixPath(parsed.key).name
        entries = art.add_reference(str(parsed), name=entry_name, checksum=checksum, max_objects=max_objects)
    except Exception as exc:  # the W&B client wraps boto3 errors (credentials, endpoint) in its own types
        raise RuntimeError(f"could not reference {uri!r} (nothing was logged): {exc}") from exc
    if not entries:
        raise S3ObjectNotFoundError(f"no S3 object at {uri!r} or below it (nothing was logged)")
    return _log(run, art, aliases=aliases, wait=wait)


def _check_exists(uri: S3Uri) -> None:
    """One HEAD (object) or one LIST (prefix) with the same endpoint rules as the W&B client."""
    import os

    boto3 = require_boto3()
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,  # None: boto3 reads AWS_ENDPOINT_URL
        region_name=os.environ.get("AWS_REGION") or None,
    )
    try:
        if not uri.is_prefix:
            kwargs = {"VersionId": uri.version_id} if uri.version_id else {}
            try:
                client.head_object(Bucket=uri.bucket, Key=uri.key, **kwargs)
                return
            except ClientError as exc:
                if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
                    raise
            # Like the W&B client, a key with no object of its own may still be a prefix of objects.
        listed = client.list_objects_v2(Bucket=uri.bucket, Prefix=uri.key, MaxKeys=1)
    except ClientError as exc:
        if _code(exc) in ("NoSuchBucket",):
            raise S3ObjectNotFoundError(
                f"bucket {uri.bucket!r} of {str(uri)!r} does not exist (nothing was logged)"
            ) from None
        raise RuntimeError(
            f"S3 refused the lookup of {str(uri)!r} ({_code(exc)}): check credentials, region and "
            f"AWS_ENDPOINT_URL (nothing was logged)"
        ) from None
    except BotoCoreError as exc:
        raise RuntimeError(f"could not reach S3 for {str(uri)!r}: {exc} (nothing was logged)") from None
    if not listed.get("KeyCount") and not listed.get("Contents"):
        raise S3ObjectNotFoundError(f"no S3 object at {str(uri)!r} or below it (nothing was logged)")


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
