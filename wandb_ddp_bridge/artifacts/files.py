"""Config, file/directory and model artifacts, logged to a live W&B run.

Nothing is logged until the whole artifact has been built: a missing path or a bad name raises before
``run.log_artifact`` is called. ``log_artifact`` only queues the upload; ``run.finish()`` (and so every
handoff and the end of the session) blocks until queued artifacts are committed, so waiting is optional:
pass ``wait=True`` when the caller needs the committed version (``artifact.version``) right away.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ..errors import ConfigError
from .logged import log_built as _log
from .logged import new_artifact as _new_artifact
from .redact import Redactor

if TYPE_CHECKING:
    from wandb import Artifact
    from wandb.sdk.wandb_run import Run

__all__ = ["DEFAULT_IGNORE", "PathLike", "log_config", "log_files", "log_model"]

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

# Matched against every path component (and the path relative to the logged directory).
DEFAULT_IGNORE: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".DS_Store",
    ".ipynb_checkpoints",
    ".pytest_cache",
    ".mypy_cache",
    ".venv",
    "wandb",  # a run directory: live files that change while they are uploaded
)


def run_secrets(run: Any) -> list[str]:
    """The API key the run authenticates with, so it is redacted even if a config repeats it."""
    settings = getattr(run, "settings", None)
    key = getattr(settings, "api_key", None)
    return [key] if isinstance(key, str) and key else []


def redactor_for(run: Any, redactor: Redactor | None = None) -> Redactor:
    """The redactor to write with: the session's when given (it remembers the secrets of earlier calls), else a
    fresh one; either way it knows the run's API key."""
    chosen = redactor if redactor is not None else Redactor()
    chosen.remember(*run_secrets(run))
    return chosen


def log_config(
    run: Run,
    cfg: Any,
    *,
    key: str | None = "config",
    artifact: bool = True,
    artifact_name: str | None = None,
    wait: bool = False,
    redactor: Redactor | None = None,
) -> Artifact | None:
    """Store the redacted ``cfg`` in ``run.config[key]`` (top level when ``key`` is None) and, unless
    ``artifact=False``, as a ``config``-type artifact holding ``config.yaml``. Returns that artifact.

    All or nothing: the YAML is written before the run config changes, so a value that cannot be saved
    leaves both untouched."""
    import yaml

    from .redact import to_plain

    source = to_plain(cfg) if isinstance(cfg, (str, os.PathLike)) else cfg
    plain = redactor_for(run, redactor).redact(source)
    if not isinstance(plain, dict):
        raise ConfigError(
            f"a config must be a mapping (dict, OmegaConf DictConfig, dataclass, ...), got {type(cfg).__name__}"
        )
    try:
        text = yaml.safe_dump(plain, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as exc:  # plain data always dumps; this guards the all-or-nothing promise
        raise ConfigError(f"the config cannot be saved as YAML (nothing was written): {exc}") from None
    config: Any = run.config
    config.update(plain if key is None else {key: plain}, allow_val_change=True)
    if not artifact:
        return None
    art = _new_artifact(artifact_name or _safe_name(key or "config"), "config")
    with art.new_file("config.yaml", mode="w", encoding="utf-8") as fh:
        fh.write(text)
    return _log(run, art, aliases=None, wait=wait)


def log_files(
    run: Run,
    paths: PathLike | Iterable[PathLike],
    *,
    name: str,
    type: str = "dataset",
    ignore: Sequence[str] = DEFAULT_IGNORE,
    aliases: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    description: str | None = None,
    wait: bool = False,
    redactor: Redactor | None = None,
) -> Artifact:
    """One artifact holding every file given and every file below every directory given (recursively,
    skipping ``ignore`` patterns). Each path appears under its own base name. Identical content gives the
    same digest, which W&B deduplicates: no new version is created."""
    files = collect_files(paths, ignore=ignore)
    art = _new_artifact(name, type, metadata=metadata, description=description, redactor=redactor_for(run, redactor))
    for local, inside in files:
        art.add_file(str(local), name=inside)
    return _log(run, art, aliases=aliases, wait=wait)


def log_model(
    run: Run,
    path: PathLike,
    *,
    name: str,
    aliases: Sequence[str] | None = ("latest",),
    type: str = "model",
    metadata: Mapping[str, Any] | None = None,
    wait: bool = False,
    redactor: Redactor | None = None,
) -> Artifact:
    """A model artifact from a weights file or a directory; an ``s3://`` URI becomes a reference artifact."""
    if isinstance(path, str) and path.startswith("s3://"):
        from .s3 import log_s3_reference

        return log_s3_reference(run, path, name=name, type=type, aliases=aliases, wait=wait)
    return log_files(
        run, [path], name=name, type=type, aliases=aliases, metadata=metadata, wait=wait, redactor=redactor
    )


def collect_files(
    paths: PathLike | Iterable[PathLike], *, ignore: Sequence[str] = DEFAULT_IGNORE
) -> list[tuple[Path, str]]:
    """``(local path, name inside the artifact)`` for every file to log, sorted; raises before anything is
    logged when a path is missing, two entries collide, or nothing is left to log."""
    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not given:
        raise ValueError("no paths given: pass at least one file or directory")
    out: dict[str, Path] = {}
    for item in given:
        p = Path(os.fspath(item))
        if not p.exists():
            raise FileNotFoundError(f"cannot log {str(p)!r}: no such file or directory (nothing was logged)")
        base = p.resolve().name
        if p.is_file():
            _add(out, base, p)
            continue
        for root, dirs, names in os.walk(p):
            rel_root = Path(root).relative_to(p)
            dirs[:] = sorted(d for d in dirs if not _ignored(rel_root / d, ignore))
            for n in sorted(names):
                rel = rel_root / n
                if not _ignored(rel, ignore):
                    _add(out, f"{base}/{rel.as_posix()}", Path(root) / n)
    if not out:
        raise ValueError(
            f"nothing to log: {[os.fspath(g) for g in given]} hold no files outside the ignore list {list(ignore)}"
        )
    return [(local, inside) for inside, local in sorted(out.items())]


def _add(out: dict[str, Path], inside: str, local: Path) -> None:
    if inside in out and out[inside].resolve() != local.resolve():
        raise ValueError(f"two paths map to {inside!r} in the artifact: {str(out[inside])!r} and {str(local)!r}")
    out[inside] = local


def _ignored(rel: Path, patterns: Sequence[str]) -> bool:
    posix = rel.as_posix()
    return any(fnmatch.fnmatch(posix, pat) or any(fnmatch.fnmatch(part, pat) for part in rel.parts) for pat in patterns)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "config"
