"""The environment around the packages: GPUs, launcher and ``WANDB_*`` variables, API key, backend reachability."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from ...ranks import LAUNCHER_VARIABLES
from .findings import Finding, mask
from .packages import importable

__all__ = [
    "DEFAULT_BASE_URL",
    "api_key",
    "api_key_finding",
    "backend",
    "distributed",
    "gpus",
    "run_command",
    "wandb_env",
]

DEFAULT_BASE_URL = "https://api.wandb.ai"
# Left over from a handoff (or a hand-written recipe) these make the NEXT job resume or join a stale run.
_STALE_HANDOFF_VARS = ("WANDB_RUN_ID", "WANDB_RESUME", "WANDB_SERVICE", "WANDB_DDP_BRIDGE_HANDOFF")


def gpus(run: Callable[[list[str]], str | None]) -> Finding:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    note = f"CUDA_VISIBLE_DEVICES={visible!r}; " if visible is not None else ""
    if importable("torch"):
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


def distributed() -> list[Finding]:
    present = {name: os.environ[name] for name in LAUNCHER_VARIABLES if name in os.environ}
    if not present:
        return [Finding("distributed env", "ok", "not inside a launcher (this process is the main process)")]
    try:
        from ...ranks import detect_world

        world = detect_world()
        detail = f"{world.launcher}: rank {world.rank} of {world.world_size} (local {world.local_rank}); " + " ".join(
            f"{k}={v}" for k, v in present.items()
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


def wandb_env() -> list[Finding]:
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
            out.append(Finding(name, "warn", shown, "W&B keys are at least 40 characters: check for truncation"))
        elif name == "WANDB_MODE" and value not in ("online", "offline", "disabled", "run", "dryrun"):
            out.append(Finding(name, "fail", shown, "use online, offline or disabled"))
        else:
            out.append(Finding(name, "info", shown))
    return out


def api_key(base_url: str) -> tuple[str | None, str]:
    """The API key wandb would use for ``base_url`` and where it comes from (``None``: no key)."""
    if os.environ.get("WANDB_API_KEY"):
        return os.environ["WANDB_API_KEY"], "WANDB_API_KEY"
    host = urllib.parse.urlparse(base_url).hostname or ""
    try:
        import netrc

        auth = netrc.netrc().authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        auth = None
    if auth and auth[2]:
        return auth[2], f"~/.netrc for {host}"
    return None, host


def api_key_finding(base_url: str) -> Finding:
    key, origin = api_key(base_url)
    if key:
        return Finding("api key", "ok", f"from {origin} " + mask(key))
    return Finding(
        "api key",
        "warn",
        f"none for {origin}",
        "run `wandb login` (or set WANDB_API_KEY); the demo needs none: it uses its own server",
    )


def backend(base_url: str, timeout: float) -> Finding:
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


def run_command(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
