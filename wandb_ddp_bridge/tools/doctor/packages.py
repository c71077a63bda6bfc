"""What is installed: Python, wandb, Ultralytics (and its W&B setting), torch, cloudpickle, boto3.

Version floors come from this package's own metadata, Ultralytics' tested range and per-release facts from
``integrations/ultralytics/releases.py``: no release number is written here. Nothing is imported to learn a
version (package metadata only), so a bare environment gets a report, never a traceback.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .findings import Finding

__all__ = ["importable", "ultralytics_setting", "versions"]


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _requirement(name: str) -> str | None:
    """The version floor this package declares for ``name`` (the ``X.Y.Z`` of ``>=X.Y.Z``), from the installed
    distribution's metadata; ``None`` when the metadata is unavailable (a source checkout never installed)."""
    try:
        requires = importlib.metadata.requires("wandb-ddp-bridge") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for line in requires:
        found = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\[[^]]*\])?\s*>=\s*([0-9][^,;\s]*)", line)
        if found and found[1].lower() == name and ";" not in line:
            return found[2]
    return None


def _releases() -> Any:
    """The Ultralytics release table (imported here: doctor must report even where that import fails)."""
    try:
        from ...integrations.ultralytics import releases
    except Exception:
        return None
    return releases


def versions() -> list[Finding]:
    table = _releases()
    parse = table.parse if table is not None else _parse_numbers
    python_floor = _python_floor()
    python_ok = python_floor is None or sys.version_info[: len(python_floor)] >= python_floor
    out = [
        Finding(
            "python",
            "ok" if python_ok else "fail",
            platform.python_version(),
            "" if python_ok else f"wandb-ddp-bridge needs Python >= {'.'.join(map(str, python_floor or ()))}",
        )
    ]
    out.append(_wandb_finding(parse))
    ul = _version("ultralytics") if importable("ultralytics") else None
    out += _ultralytics_findings(ul, table)
    out.append(_optional("torch", "warn", "needed for training: install torch for your CUDA version"))
    out.append(_cloudpickle_finding(ul, table, parse))
    out.append(
        _optional("boto3", "info", "only needed for s3:// reference artifacts: pip install 'wandb-ddp-bridge[s3]'")
    )
    return out


def _parse_numbers(version: str) -> tuple[int, ...]:
    numbers = re.match(r"^\s*(\d+(?:\.\d+)*)", version)
    return tuple(int(part) for part in numbers[1].split(".")) if numbers else ()


def _python_floor() -> tuple[int, ...] | None:
    try:
        spec = " ".join(importlib.metadata.metadata("wandb-ddp-bridge").get_all("Requires-Python") or [])
    except importlib.metadata.PackageNotFoundError:
        return None
    found = re.search(r">=\s*([0-9][0-9.]*)", spec)
    return _parse_numbers(found[1]) if found else None


def _wandb_finding(parse: Callable[[str], tuple[int, ...]]) -> Finding:
    floor = _requirement("wandb")
    wanted = f"wandb>={floor}" if floor else "wandb"
    version = _version("wandb")
    if version is None or not importable("wandb"):
        return Finding("wandb", "fail", "not installed", f"pip install '{wanted}'")
    if floor is not None and parse(version) < parse(floor):
        return Finding("wandb", "warn", version, f"tested from {floor}: pip install -U '{wanted}'")
    return Finding("wandb", "ok", version)


def _ultralytics_findings(ul: str | None, table: Any) -> list[Finding]:
    if ul is None:
        return [
            Finding(
                "ultralytics",
                "warn",
                "not installed",
                "needed for YOLO training and the demo: pip install 'wandb-ddp-bridge[ultralytics]'",
            )
        ]
    if table is None:
        return [Finding("ultralytics", "info", f"{ul} (the bridge's release table could not be imported)")]
    tested = f"{table.OLDEST_TESTED} - {table.NEWEST_TESTED}"
    if not table.tested(ul):
        out = [Finding("ultralytics", "warn", ul, f"tested with {tested}; see docs/compatibility.md")]
    else:
        out = [Finding("ultralytics", "ok", f"{ul} (tested: {tested})")]
    # what the bridge knows about this release: the facts doctor can explain, one line each
    out += [Finding("  fact", "info", line) for line in table.describe(ul)]
    return out


def _cloudpickle_finding(ul: str | None, table: Any, parse: Callable[[str], tuple[int, ...]]) -> Finding:
    cp = _version("cloudpickle") if importable("cloudpickle") else None
    needs = ul is not None and table is not None and table.holds("ddp_worker_cloudpickle", ul)
    if needs and (cp is None or parse(cp) < parse(table.CLOUDPICKLE_FOR_DDP)):
        since = table.FACTS["ddp_worker_cloudpickle"].since
        wanted = f"cloudpickle>={table.CLOUDPICKLE_FOR_DDP}"
        return Finding(
            "cloudpickle",
            "warn",
            cp or "not installed",
            f"ultralytics >= {since} needs {wanted} for DDP (else it pip-installs it at run time): "
            f"pip install '{wanted}'",
        )
    return Finding("cloudpickle", "ok" if cp else "info", cp or "not installed (not needed here)")


def ultralytics_setting() -> Finding:
    if not importable("ultralytics"):
        return Finding("ultralytics wandb setting", "info", "ultralytics not installed")
    config_dir = os.environ.get("YOLO_CONFIG_DIR")
    candidates = [Path(config_dir)] if config_dir else []
    candidates += [
        Path.home() / ".config" / "Ultralytics",
        Path.home() / "Library" / "Application Support" / "Ultralytics",
        Path(os.environ.get("APPDATA", "/nonexistent")) / "Ultralytics",
    ]
    for directory in candidates:
        settings = directory / "settings.json"
        if settings.is_file():
            try:
                value = json.loads(settings.read_text()).get("wandb")
            except (OSError, ValueError) as exc:
                return Finding(
                    "ultralytics wandb setting",
                    "warn",
                    f"{settings} unreadable ({exc})",
                    "fix or delete the file; Ultralytics rewrites defaults",
                )
            state = "on" if value else "off"
            advice = (
                "the bridge logs epochs itself" if not value else "Ultralytics' own callback logs into the bridged run"
            )
            return Finding("ultralytics wandb setting", "ok", f"wandb={state} ({settings}); {advice}")
    return Finding(
        "ultralytics wandb setting",
        "info",
        f"no settings.json yet ({_setting_default()}); the bridge logs epochs itself when the native callback is off",
    )


def _setting_default() -> str:
    table, ul = _releases(), _version("ultralytics")
    if table is None or ul is None:
        return "the release default applies"
    return f"ultralytics {ul} defaults to wandb={'on' if table.holds('native_wandb_default_on', ul) else 'off'}"


def _optional(package: str, missing_status: str, advice: str) -> Finding:
    """A package the bridge can do without: its version, or ``missing_status`` with what it is needed for."""
    found = _version(package) if importable(package) else None
    return Finding(package, "ok" if found else missing_status, found or "not installed", "" if found else advice)
