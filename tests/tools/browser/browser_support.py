"""Browser-test support: the system Chromium, a tab that records console errors, where screenshots go.

No browser is downloaded: Playwright starts the system Chromium (``executable_path``) with a fresh profile
and no network features. Where Chromium or Playwright is missing the tests skip, except in CI (``CI=true``),
where a skipped browser test would hide a broken page: there they fail (``.ci/run`` installs Chromium).

Layout is read from the DOM (``getBoundingClientRect``) as :class:`Box` es, and a screenshot is checked to
show something (:func:`assert_not_blank`, :func:`assert_shows_each_bar`) rather than by its file size.

Screenshots go to ``$BRIDGE_SCREENSHOT_DIR`` (default ``artifacts/screenshots``, kept by CI); with
``BRIDGE_UPDATE_DOCS_IMAGES=1`` the pictures the docs show are copied to ``docs/images/`` as well.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
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


# ------------------------------------------------------------------------------------------------ geometry
#: Rounding of sub-pixel layout: a box may poke out of its container by this much (CSS px).
SLACK = 0.5
#: An element's page box: ``getBoundingClientRect`` (the viewport's) moved by the scroll offset.
_PAGE_BOX = (
    "(r => [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY])(x.getBoundingClientRect())"
)
_BOXES = f"els => els.map(x => {_PAGE_BOX})"


@dataclass(frozen=True)
class Box:
    """An element's border box in CSS px on the page (a full-page screenshot's pixels, at scale 1)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def inside(self, outer: Box) -> bool:
        return (
            self.left >= outer.left - SLACK
            and self.right <= outer.right + SLACK
            and self.top >= outer.top - SLACK
            and self.bottom <= outer.bottom + SLACK
        )

    def overlaps(self, other: Box) -> bool:
        """Share an area (touching edges, within the rounding slack, do not count)."""
        return (
            min(self.right, other.right) - max(self.left, other.left) > SLACK
            and min(self.bottom, other.bottom) - max(self.top, other.top) > SLACK
        )


def boxes(tab: Any, selector: str) -> list[Box]:
    """The boxes of every element ``selector`` matches, in document order."""
    return [Box(*r) for r in tab.locator(selector).evaluate_all(_BOXES)]


def assert_fits_the_viewport(tab: Any) -> None:
    """The page does not scroll sideways: nothing is wider than the window."""
    scroll_width, inner_width = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"the page is {scroll_width} px wide in a {inner_width} px window"


def assert_each_inside(tab: Any, selector: str, container: str) -> list[Box]:
    """Every ``selector`` element has an area and lies inside its closest ``container`` ancestor and within
    the window's width; returns their boxes."""
    pairs = tab.locator(selector).evaluate_all(
        f"(els, sel) => els.map(e => [e, e.closest(sel)].map(x => x && {_PAGE_BOX}))", container
    )
    inner_width = tab.evaluate("window.innerWidth")
    found = []
    for i, (own, outer) in enumerate(pairs):
        box = Box(*own)
        assert outer is not None, f"{selector} #{i} is not inside a {container}"
        assert box.width > 0 and box.height > 0, f"{selector} #{i} has no area: {box}"
        assert box.inside(Box(*outer)), f"{selector} #{i} {box} overflows its {container} {Box(*outer)}"
        assert box.left >= -SLACK and box.right <= inner_width + SLACK, f"{selector} #{i} {box} leaves the window"
        found.append(box)
    return found


def assert_disjoint(named: Sequence[tuple[str, Box]]) -> None:
    """No two of the boxes share an area."""
    for i, (name, box) in enumerate(named):
        for other_name, other in named[i + 1 :]:
            assert not box.overlaps(other), f"{name} {box} overlaps {other_name} {other}"


# ------------------------------------------------------------------------------------------------ pictures
#: What a picture with content has at least, at most (``assert_not_blank``): the run page (about 1,300 colours,
#: its most common one on 70-80 % of it) and its timeline section (about 700, white on about 92 %: a card with
#: text and a few bars); a blank picture has one colour on all of it.
PAGE_CONTENT: dict[str, Any] = {"min_colours": 256, "max_share": 0.9}
TIMELINE_CONTENT: dict[str, Any] = {"min_colours": 64, "max_share": 0.97}


def picture(png: Path, region: Box | None = None, origin: Box | None = None) -> Any:
    """The screenshot as an RGB Pillow image; with ``region``, only the part of it that shows that page box
    (``origin``: where on the page the screenshot starts; the page's top left when not given)."""
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
    if region is None:
        return rgb
    dx, dy = (origin.left, origin.top) if origin is not None else (0.0, 0.0)
    return rgb.crop(tuple(round(v) for v in (region.left - dx, region.top - dy, region.right - dx, region.bottom - dy)))


def assert_not_blank(image: Any, what: str, *, min_colours: int, max_share: float) -> None:
    """The picture has content: enough distinct colours, and no single colour covering (nearly) all of it."""
    pixels = image.width * image.height
    assert pixels > 0, f"{what} is empty"
    counts = image.getcolors(maxcolors=pixels) or []
    share = max(n for n, _ in counts) / pixels
    assert len(counts) >= min_colours, f"{what} has {len(counts)} colours (< {min_colours}): blank or nearly so"
    assert share <= max_share, f"one colour covers {share:.0%} of {what} (> {max_share:.0%}): blank or nearly so"


def css_rgb(colour: str) -> tuple[int, int, int]:
    """``rgb(r, g, b)`` / ``rgba(r, g, b, a)`` as computed by the browser."""
    r, g, b = (int(float(v)) for v in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3])
    return r, g, b


def assert_shows_each_bar(image: Any, bars: Sequence[tuple[Box, str]], origin: Box | None = None) -> None:
    """Each timeline bar is in the picture where the DOM puts it, in its own colour: ``bars`` holds each bar's
    box and computed background colour, ``origin`` where on the page the picture starts (its top left)."""
    dx, dy = (origin.left, origin.top) if origin is not None else (0.0, 0.0)
    for i, (bar, colour) in enumerate(bars):
        centre = (int((bar.left + bar.right) / 2 - dx), int((bar.top + bar.bottom) / 2 - dy))
        seen = image.getpixel(centre)
        assert seen == css_rgb(colour), f"bar #{i} should show {colour} at {centre}; the picture shows {seen}"
