"""Artifacts and metadata: redacted configs, file/directory and model artifacts, S3 references, job metadata.

Plain functions that take the live ``wandb`` run first; the Session calls them after its phase checks.
Importing this package imports neither wandb nor boto3 nor torch.
"""

from __future__ import annotations

from .files import DEFAULT_IGNORE, log_config, log_files, log_model
from .metadata import collect_metadata, log_metadata
from .redact import REDACTED, Redactor, is_secret_key, looks_like_api_key, redact, redact_text, to_plain
from .s3 import S3_INSTALL_HINT, S3ObjectNotFoundError, S3Uri, log_s3_reference, parse_s3_uri

__all__ = [
    "DEFAULT_IGNORE",
    "REDACTED",
    "S3_INSTALL_HINT",
    "Redactor",
    "S3ObjectNotFoundError",
    "S3Uri",
    "collect_metadata",
    "is_secret_key",
    "log_config",
    "log_files",
    "log_metadata",
    "log_model",
    "log_s3_reference",
    "looks_like_api_key",
    "parse_s3_uri",
    "redact",
    "redact_text",
    "to_plain",
]
