"""``wandb-ddp-bridge doctor``: what this environment holds, and advice for each thing that is off.

Every probe is guarded: a bare environment (no torch, no ultralytics, even no wandb) gets a report, never a
traceback. Nothing here imports torch unless it is installed, and the network is touched only by the
backend probe (skippable).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Finding", "diagnose", "mask", "render"]

DEFAULT_BASE_URL = "https://api.wandb.ai"
_LAUNCHER_VARS = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_LOCALID",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "PMI_RANK",
    "PMI_SIZE",
)
# Left over from a handoff (or a hand-written recipe) these make the NEXT job resume or join a stale run.
_STALE_HANDOFF_VARS = ("WANDB_RUN_ID", "WANDB_RESUME", "WANDB_SERVICE", "WANDB_DDP_BRIDGE_HANDOFF")


@dataclass(frozen=True)
class Finding:
    """One report line. ``status``: ok, info, warn or fail; ``advice`` says what to do when not ok."""

    topic: str
    status: str
    detail: str
    advice: str = ""


def mask(secret: str) -> str:
    """``abcd…wxyz (40 chars)``: enough to tell keys apart, never enough to use one."""
    if len(secret) <= 8:
        return f"*** ({len(secret)} chars)"
    return f"{secret[:4]}…{secret[-4:]} ({len(secret)} chars)"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _importable(module: str) -> bool:
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
        from ..integrations.ultralytics import releases
    except Exception:
        return None
    return releases


def _versions() -> list[Finding]:
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
    ul = _version("ultralytics") if _importable("ultralytics") else None
    out += _ultralytics_findings(ul, table)
    torch_v = _version("torch") if _importable("torch") else None
    out.append(
        Finding(
            "torch",
            "ok" if torch_v else "warn",
            torch_v or "not installed",
            "" if torch_v else "needed for training: install torch for your CUDA version",
        )
    )
    out.append(_cloudpickle_finding(ul, table, parse))
    boto = _version("boto3") if _importable("boto3") else None
    out.append(
        Finding(
            "boto3",
            "ok" if boto else "info",
            boto or "not installed",
            "" if boto else "only needed for s3:// reference artifacts: pip install 'wandb-ddp-bridge[s3]'",
        )
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
    if version is None or not _importable("wandb"):
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
    cp = _version("cloudpickle") if _importable("cloudpickle") else None
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


def _ultralytics_setting() -> Finding:
    if not _importable("ultralytics"):
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
                "the bridge logs epochs itself"
                if not value
                else "Ultralytics' own callback logs into the bridged run"
            )
            return Finding("ultralytics wandb setting", "ok", f"wandb={state} ({settings}); {advice}")
    return Finding(
        "ultralytics wandb setting",
        "info",
        f"no settings.json yet ({_setting_default()}); the bridge logs epochs itself when the native "
        "callback is off",
    )


def _setting_default() -> str:
    table, ul = _releases(), _version("ultralytics")
    if table is None or ul is None:
        return "the release default applies"
    return f"ultralytics {ul} defaults to wandb={'on' if table.holds('native_wandb_default_on', ul) else 'off'}"


def _gpus(run: Callable[[list[str]], str | None]) -> Finding:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    note = f"CUDA_VISIBLE_DEVICES={visible!r}; " if visible is not None else ""
    if _importable("torch"):
        try:
            import torch

            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            names = [torch.cuda.get_device_name(i) for i in range(count)]
        except Exception as exc:  # a broken CUDA install must not kill the report
            return Finding(
                "gpus",
                "warn",
                f"{note}torch could not query CUDA: {exc}",
                "check the NVIDIA driver and that torch matches your CUDA version",
            )
        if count:
            return Finding("gpus", "ok", f"{note}{count} visible: " + ", ".join(names))
        return Finding(
            "gpus",
            "info",
            f"{note}none visible to torch (training runs on CPU)",
            "for multi-GPU DDP use devices=[0, 1, ...] on a machine with GPUs",
        )
    listing = run(["nvidia-smi", "-L"]) if shutil.which("nvidia-smi") else None
    if listing:
        gpus = [line for line in listing.splitlines() if line.strip()]
        return Finding(
            "gpus",
            "warn",
            f"{note}{len(gpus)} by nvidia-smi, but torch is not installed",
            "install torch with CUDA support",
        )
    return Finding("gpus", "info", f"{note}none found (no torch, no nvidia-smi)")


def _distributed() -> list[Finding]:
    present = {name: os.environ[name] for name in _LAUNCHER_VARS if name in os.environ}
    if not present:
        return [Finding("distributed env", "ok", "not inside a launcher (this process is the main process)")]
    try:
        from ..ranks import detect_world

        world = detect_world()
        detail = (
            f"{world.launcher}: rank {world.rank} of {world.world_size} (local {world.local_rank}); "
            + " ".join(f"{k}={v}" for k, v in present.items())
        )
        return [
            Finding(
                "distributed env",
                "info",
                detail,
                "" if world.launcher else "launcher variables without a launcher: unset them",
            )
        ]
    except Exception as exc:
        return [Finding("distributed env", "fail", f"{present}: {exc}", "unset the stale launcher variables")]


def _wandb_env() -> list[Finding]:
    out = []
    values = {k: v for k, v in sorted(os.environ.items()) if k.startswith("WANDB_")}
    if not values:
        out.append(Finding("WANDB_* env", "ok", "none set (settings come from arguments / netrc)"))
    for name, value in values.items():
        shown = mask(value) if "KEY" in name or "TOKEN" in name or "SECRET" in name else value
        if name in _STALE_HANDOFF_VARS:
            out.append(
                Finding(
                    name,
                    "warn",
                    shown,
                    f"left over from an earlier job or a hand-written handoff: the next run would "
                    f"resume/join it. Unset it (`unset {name}`); the bridge sets it only during a handoff",
                )
            )
        elif name == "WANDB_API_KEY" and len(value) < 40:
            out.append(
                Finding(name, "warn", shown, "W&B keys are at least 40 characters: check for truncation")
            )
        elif name == "WANDB_MODE" and value not in ("online", "offline", "disabled", "run", "dryrun"):
            out.append(Finding(name, "fail", shown, "use online, offline or disabled"))
        else:
            out.append(Finding(name, "info", shown))
    return out


def _api_key_finding(base_url: str) -> Finding:
    if os.environ.get("WANDB_API_KEY"):
        return Finding("api key", "ok", "from WANDB_API_KEY " + mask(os.environ["WANDB_API_KEY"]))
    host = urllib.parse.urlparse(base_url).hostname or ""
    try:
        import netrc

        auth = netrc.netrc().authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        auth = None
    if auth and auth[2]:
        return Finding("api key", "ok", f"from ~/.netrc for {host} " + mask(auth[2]))
    return Finding(
        "api key",
        "warn",
        f"none for {host}",
        "run `wandb login` (or set WANDB_API_KEY); the demo needs none: it uses its own server",
    )


def _backend(base_url: str, timeout: float) -> Finding:
    url = base_url.rstrip("/") + "/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return Finding("backend", "ok", f"{base_url} reachable (HTTP {response.status})")
    except urllib.error.HTTPError as exc:  # an HTTP answer means the server is there
        return Finding("backend", "ok", f"{base_url} reachable (HTTP {exc.code})")
    except Exception as exc:
        return Finding(
            "backend",
            "fail",
            f"{base_url} unreachable: {exc}",
            "check network/proxy and WANDB_BASE_URL; or train with WANDB_MODE=offline and "
            "`wandb sync` later (BridgeConfig(on_backend_error='offline') keeps post-training logs)",
        )


def _run(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def diagnose(*, network: bool = True, timeout: float = 5.0) -> list[Finding]:
    """All findings, in report order."""
    findings = _versions()
    for probe in (_ultralytics_setting, lambda: _gpus(_run)):
        try:
            findings.append(probe())
        except Exception as exc:  # one broken probe must not hide the others
            findings.append(Finding("probe", "warn", f"failed: {exc!r}"))
    findings += _distributed()
    findings += _wandb_env()
    base_url = os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)
    mode = os.environ.get("WANDB_MODE", "online")
    findings.append(_api_key_finding(base_url))
    if mode in ("offline", "dryrun", "disabled"):
        findings.append(Finding("backend", "info", f"not probed: WANDB_MODE={mode}"))
    elif not network:
        findings.append(Finding("backend", "info", f"not probed ({base_url}): --no-network"))
    else:
        findings.append(_backend(base_url, timeout))
    return findings


def render(findings: list[Finding]) -> str:
    width = max(len(f.topic) for f in findings)
    lines = []
    for f in findings:
        lines.append(f"  {f.status.upper():4}  {f.topic.ljust(width)}  {f.detail}")
        if f.advice and f.status in ("warn", "fail"):
            lines.append(f"        {''.ljust(width)}  -> {f.advice}")
    problems = sum(1 for f in findings if f.status in ("warn", "fail"))
    lines.append(f"{problems} problem line(s)" if problems else "no problems found")
    return "\n".join(lines)
