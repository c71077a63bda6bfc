"""Browser-test support: the system Chromium, a tab that records console errors, where screenshots go.

No browser is downloaded: Playwright starts the system Chromium (``executable_path``) with a fresh profile
and no network features. Where Chromium or Playwright is missing the tests skip, except in CI (``CI=true``),
where a skipped browser test would hide a broken page: there they fail (``.ci/run`` installs Chromium).

Screenshots go to ``$BRIDGE_SCREENSHOT_DIR`` (default ``artifacts/screenshots``, kept by CI); with
``BRIDGE_UPDATE_DOCS_IMAGES=1`` the pictures the docs show are copied to ``docs/images/`` as well.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    found = os.environ.get("BRIDGE_CHROMIUM") or next((p for p in CHROMIUM_CANDIDATES if os.access(p, os.X_OK)), None)
    return found or shutil.which("chromium") or shutil.which("chromium-browser")


def unavailable(reason: str) -> None:
    """Skip, or fail in CI: there a skipped browser test would hide a broken page."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason} (.ci/run installs chromium; see tests/tools/browser)")
    pytest.skip(reason)


class Page:
    """A browser tab that records console errors and uncaught exceptions."""

    def __init__(self, tab: Any) -> None:
        self.tab = tab
        self.errors: list[str] = []
        tab.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("BRIDGE_SCREENSHOT_DIR") or ROOT / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep_screenshot(path: Path, docs_name: str | None = None) -> None:
    """Regenerate ``docs/images/<docs_name>`` from ``path`` when asked (``BRIDGE_UPDATE_DOCS_IMAGES=1``)."""
    if docs_name and os.environ.get("BRIDGE_UPDATE_DOCS_IMAGES") == "1":
        target = ROOT / "docs" / "images" / docs_name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
