"""Browser tests: one headless system Chromium per session (see ``browser_support``), a fresh tab per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # browser_support, runs
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ultralytics"))  # ul_checks: the DDP scenario

from browser_support import CHROMIUM_ARGS, DESKTOP, Page, chromium_path, unavailable


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the whole session, with a fresh user-data dir."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install 'wandb-ddp-bridge[test]')")
    executable = chromium_path()
    if executable is None:
        unavailable("no chromium executable (apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=DESKTOP,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Page]:
    tab = browser_context.new_page()
    tab.set_viewport_size(DESKTOP)
    try:
        yield Page(tab)
    finally:
        tab.close()
