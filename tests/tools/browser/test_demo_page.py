"""The demo's run page in a real browser: served live by `demo --serve`, and as its `verify --html` file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    DESKTOP,
    PAGE_CONTENT,
    PHONE,
    TIMELINE_CONTENT,
    Page,
    assert_not_blank,
    assert_shows_each_bar,
    boxes,
    keep_screenshot,
    picture,
    screenshot_dir,
)
from layout import assert_charts_layout, assert_timeline_layout
from runs import DemoProcess, start_demo, verify_html

from wandb_ddp_bridge.testing import LocalWandbServer
from wandb_ddp_bridge.testing.records import RunRecord

pytest.importorskip("ultralytics")
pytestmark = pytest.mark.slow

EPOCHS = 2


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoProcess, Path]]:
    """One `demo --serve` for the module, and the `verify --html` page of its run."""
    work = tmp_path_factory.mktemp("demo")
    running = start_demo(work)
    try:
        html = work / "report.html"
        result = verify_html(running.run_path, running.base_url, running.api_key, html)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"run page written to {html}" in result.stdout
        yield running, html
    finally:
        rc = running.stop()
        assert rc == 0, "".join(running.output)[-4000:]
        assert "stopped serving" in "".join(running.output)


@pytest.fixture(scope="module")
def demo_record(demo: tuple[DemoProcess, Path]) -> RunRecord:
    """The demo's run as its server recorded it (read from the records folder the demo reported)."""
    running = demo[0]
    return LocalWandbServer(running.records_dir).run(running.run_path)


@pytest.fixture(params=["live", "file"])
def opened(request: pytest.FixtureRequest, demo: tuple[DemoProcess, Path], page: Page) -> Page:
    """The demo's run page, from the demo's local server or from the `--html` file."""
    running, html = demo
    page.tab.goto(running.page_url if request.param == "live" else html.as_uri())
    return page


def test_the_timeline_shows_pre_training_post_in_order_each_exiting_0(opened: Page) -> None:
    rows = opened.tab.locator(".timeline .tl-row[data-phase]")
    assert rows.locator(".phase-name").all_inner_texts() == ["PRE", "training", "POST"]
    assert [rows.nth(i).get_attribute("data-exit") for i in range(3)] == ["0", "0", "0"]
    assert rows.locator(".exit").all_inner_texts() == ["exit 0"] * 3
    # bars on one time axis, one after the other
    lefts = [float(rows.nth(i).locator(".tl-bar").evaluate("b => parseFloat(b.style.left)")) for i in range(3)]
    assert lefts == sorted(lefts)
    # in-process training: every session held by the demo's own process, which is not distributed
    assert all("not distributed" in t for t in rows.locator(".holder").all_inner_texts())
    assert opened.errors == []


def test_the_epoch_charts_have_one_point_per_epoch_for_every_metric(opened: Page) -> None:
    charts = opened.tab.locator("figure.chart")
    metrics = charts.evaluate_all("fs => fs.map(f => f.dataset.metric)")
    for family in ("train/", "metrics/", "lr/"):
        assert any(m.startswith(family) for m in metrics), metrics
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.get_attribute("data-points") == str(EPOCHS)
        assert chart.locator("circle.dot").count() == EPOCHS, chart.get_attribute("data-metric")


def test_each_artifact_is_listed_under_its_phase(opened: Page, demo: tuple[DemoProcess, Path]) -> None:
    run_id = demo[0].run_path.rsplit("/", 1)[1]

    def names(phase: str) -> list[str]:
        rows = opened.tab.locator(f'.phase-artifacts[data-phase="{phase}"] tr[data-artifact]')
        return rows.evaluate_all("rs => rs.map(r => r.dataset.artifact)")

    assert names("pre") == ["config"]
    assert names("training") == [f"run_{run_id}_model"]
    assert sorted(names("post")) == ["best", "final_model"]
    assert opened.tab.locator('.phase-artifacts[data-phase="unknown"]').count() == 0


def test_the_checks_read_passed(opened: Page) -> None:
    assert opened.tab.inner_text("#verdict") == "verification PASSED"
    assert opened.tab.locator("tr.check.bad").count() == 0
    assert opened.tab.locator("tr.check.ok").count() >= 8
    assert opened.tab.inner_text("#lifecycle") == "created once / resumed 2 times"
    # the fake API key of the demo's config is redacted on the page
    assert "***REDACTED***" in opened.tab.inner_text("#config")


def test_the_page_is_readable_at_phone_width(opened: Page) -> None:
    opened.tab.set_viewport_size(PHONE)
    width = opened.tab.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at {PHONE['width']} px ({width} px wide)"
    assert opened.tab.locator(".tl-bar").first.is_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_layout_matches_the_servers_records(opened: Page, demo_record: RunRecord, viewport: dict[str, int]) -> None:
    """A bar per writer session in phase order, at its place in time; a chart per metric; nothing overflows."""
    opened.tab.set_viewport_size(viewport)
    assert_timeline_layout(opened.tab, demo_record)
    assert_charts_layout(opened.tab, demo_record)


def test_screenshots_of_the_demo_page(demo: tuple[DemoProcess, Path], demo_record: RunRecord, page: Page) -> None:
    """The quickstart's screenshot and the in-process timeline of docs/how-it-works.md, from the live page:
    pictures with content, whose timeline shows every bar where the DOM puts it."""
    folder = screenshot_dir()
    page.tab.goto(demo[0].page_url)
    shot = folder / "run-page.png"
    page.tab.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 1280, "height": 1500})
    keep_screenshot(shot, "run-page.png")
    timeline = folder / "timeline-in-process.png"
    page.tab.locator("#timeline").screenshot(path=str(timeline))
    keep_screenshot(timeline, "timeline-in-process.png")
    page.tab.screenshot(path=str(folder / "run-page-full.png"), full_page=True)
    bars = assert_timeline_layout(page.tab, demo_record)
    (section,) = boxes(page.tab, "#timeline")
    assert_not_blank(picture(shot), shot.name, **PAGE_CONTENT)
    assert_not_blank(picture(shot, section), "the timeline in " + shot.name, **TIMELINE_CONTENT)
    assert_shows_each_bar(picture(shot), bars)
    assert_not_blank(picture(timeline), timeline.name, **TIMELINE_CONTENT)
    assert_shows_each_bar(picture(timeline), bars, origin=section)
    page.tab.set_viewport_size(PHONE)
    phone = folder / "run-page-phone.png"
    page.tab.screenshot(path=str(phone), full_page=True)
    assert_not_blank(picture(phone), phone.name, **PAGE_CONTENT)


def test_the_index_links_to_the_run_page(demo: tuple[DemoProcess, Path], page: Page) -> None:
    running = demo[0]
    page.tab.goto(running.base_url + "/")
    link = page.tab.locator("#runs a")
    assert link.count() == 1
    link.click()
    assert page.tab.url == running.page_url
    assert page.tab.inner_text("#verdict") == "verification PASSED"
    assert page.errors == []


def test_the_page_runs_no_script_and_loads_nothing_from_elsewhere(demo: tuple[DemoProcess, Path], page: Page) -> None:
    requests: list[str] = []
    page.tab.on("request", lambda r: requests.append(r.url))
    page.tab.goto(demo[1].as_uri())
    assert page.tab.locator("script").count() == 0
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert page.errors == []
