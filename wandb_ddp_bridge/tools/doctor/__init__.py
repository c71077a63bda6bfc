"""``wandb-ddp-bridge doctor``: what this environment holds, and advice for each thing that is off.

Every probe is guarded: a bare environment (no torch, no ultralytics, even no wandb) gets a report, never a
traceback. Nothing here imports torch unless it is installed, and the network is touched only by the
backend probe and the API key check (both skippable). :mod:`.packages` reports what is installed,
:mod:`.environment` what surrounds it, :mod:`.credentials` whether the backend URL and key are usable.
"""

from __future__ import annotations

import os

from .credentials import base_url_finding, key_check
from .environment import DEFAULT_BASE_URL, api_key, api_key_finding, backend, distributed, gpus, run_command, wandb_env
from .findings import Finding, mask, render
from .packages import ultralytics_setting, versions

__all__ = ["Finding", "diagnose", "mask", "render"]


def diagnose(*, network: bool = True, timeout: float = 5.0) -> list[Finding]:
    """All findings, in report order."""
    findings = versions()
    for probe in (ultralytics_setting, lambda: gpus(run_command)):
        try:
            findings.append(probe())
        except Exception as exc:  # one broken probe must not hide the others
            findings.append(Finding("probe", "warn", f"failed: {exc!r}"))
    findings += distributed()
    findings += wandb_env()
    base_url = os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)
    mode = os.environ.get("WANDB_MODE", "online")
    malformed = base_url_finding(base_url)
    if malformed is not None:
        return [*findings, malformed]  # neither a key for it nor a probe of it means anything
    findings.append(api_key_finding(base_url))
    if mode in ("offline", "dryrun", "disabled"):
        findings.append(Finding("backend", "info", f"not probed: WANDB_MODE={mode}"))
    elif not network:
        findings.append(Finding("backend", "info", f"not probed ({base_url}): --no-network"))
    else:
        findings.append(backend(base_url, timeout))
        key = api_key(base_url)[0]
        if key and findings[-1].status == "ok":
            findings.append(key_check(base_url, key, timeout))
    return findings
