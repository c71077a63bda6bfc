"""The run page of a DDP run (2 gloo ranks through Ultralytics' launcher) and of a run full of injections."""

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
from runs import PAYLOAD_IMG, PAYLOAD_METRIC, PAYLOAD_SCRIPT, make_escaping_run, verify_html
from ul_checks import run_scenario_subprocess

from wandb_ddp_bridge.testing import LocalWandbServer
from wandb_ddp_bridge.tools.report import run_page_path, server_pages


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWandbServer]:
    """A local server that serves the run pages, for the runs of this module."""
    with LocalWandbServer(tmp_path_factory.mktemp("server"), pages=server_pages) as server:
        yield server


@pytest.fixture(scope="module")
def ddp_run(page_server: LocalWandbServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The DDP scenario's run path and its `verify --html` file."""
    pytest.importorskip("ultralytics")
    work = tmp_path_factory.mktemp("ddp")
    # the Ultralytics tests' DDP scenario (2 gloo ranks, plots on), detect, in their clean subprocess
    scenario, _ = run_scenario_subprocess(work, page_server, project="ddp-page", ddp=True, plots=True)
    (run,) = page_server.runs(project="ddp-page")
    assert run.id == scenario["pre_id"] == scenario["post_id"], scenario  # the one run the scenario made
    html = work / "ddp.html"
    result = verify_html(run.path, page_server.url, page_server.api_key, html)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run.path, html


@pytest.fixture(params=["live", "file"])
def ddp_page(
    request: pytest.FixtureRequest, ddp_run: tuple[str, Path], page_server: LocalWandbServer, page: Page
) -> Page:
    path, html = ddp_run
    page.tab.goto(page_server.url + run_page_path(path) if request.param == "live" else html.as_uri())
    return page


@pytest.mark.slow
def test_the_ddp_training_bar_is_held_by_global_rank_0(ddp_page: Page) -> None:
    rows = ddp_page.tab.locator(".timeline .tl-row[data-phase]")
    assert rows.locator(".phase-name").all_inner_texts() == ["PRE", "training", "POST"]
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.exit)") == ["0", "0", "0"]
    training = ddp_page.tab.locator('.tl-row[data-phase="training"]')
    assert training.get_attribute("data-rank") == "0"
    holder = training.locator(".holder").inner_text()
    assert "global rank 0 of 2" in holder, holder
    # the parent (PRE, POST) is another process than the worker that held training
    pids = [t.split(" ")[1] for t in rows.locator(".holder").all_inner_texts()]
    assert pids[0] == pids[2] != pids[1]
    assert "RANK=0" in (training.locator(".holder").get_attribute("title") or "")
    assert ddp_page.errors == []


@pytest.mark.slow
def test_the_ddp_page_shows_ultralytics_images(ddp_page: Page) -> None:
    shown = ddp_page.tab.locator("#images figure[data-media]").evaluate_all("fs => fs.map(f => f.dataset.media)")
    for key in ("results", "confusion_matrix", "BoxPR_curve"):
        assert key in shown, shown
    # every image really loaded (live: from the server's files; file: inlined)
    ddp_page.tab.wait_for_load_state("load")
    widths = ddp_page.tab.locator("#images img").evaluate_all("is => is.map(i => i.complete && i.naturalWidth)")
    assert widths and all(w and w > 0 for w in widths), widths
    assert ddp_page.errors == []


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_ddp_page_layout_matches_the_servers_records(
    ddp_page: Page, ddp_run: tuple[str, Path], page_server: LocalWandbServer, viewport: dict[str, int]
) -> None:
    """A bar per writer session (parent, rank-0 worker, parent) in phase order and in time; a chart per metric."""
    ddp_page.tab.set_viewport_size(viewport)
    record = page_server.run(ddp_run[0])
    assert_timeline_layout(ddp_page.tab, record)
    assert_charts_layout(ddp_page.tab, record)


@pytest.mark.slow
def test_screenshot_of_the_ddp_timeline(ddp_run: tuple[str, Path], page_server: LocalWandbServer, page: Page) -> None:
    """The DDP timeline of docs/how-it-works.md: a picture with content that shows every bar where it is."""
    page.tab.goto(page_server.url + run_page_path(ddp_run[0]))
    shot = screenshot_dir() / "timeline-ddp.png"
    page.tab.locator("#timeline").screenshot(path=str(shot))
    keep_screenshot(shot, "timeline-ddp.png")
    full = screenshot_dir() / "run-page-ddp-full.png"
    page.tab.screenshot(path=str(full), full_page=True)
    bars = assert_timeline_layout(page.tab, page_server.run(ddp_run[0]))
    (section,) = boxes(page.tab, "#timeline")
    assert_not_blank(picture(shot), shot.name, **TIMELINE_CONTENT)
    assert_shows_each_bar(picture(shot), bars, origin=section)
    assert_not_blank(picture(full), full.name, **PAGE_CONTENT)
    assert_not_blank(picture(full, section), "the timeline in " + full.name, **TIMELINE_CONTENT)
    assert_shows_each_bar(picture(full), bars)


@pytest.fixture(scope="module")
def escaping_run(page_server: LocalWandbServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    work = tmp_path_factory.mktemp("escaping")
    path = make_escaping_run(page_server, work)
    html = work / "escaping.html"
    result = verify_html(path, page_server.url, page_server.api_key, html)
    assert "run page written to" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    return path, html


@pytest.mark.parametrize("source", ["live", "file"])
def test_injections_from_the_run_render_as_text_and_never_run(
    source: str, escaping_run: tuple[str, Path], page_server: LocalWandbServer, page: Page
) -> None:
    path, html = escaping_run
    page.tab.goto(page_server.url + run_page_path(path) if source == "live" else html.as_uri())
    assert page.tab.evaluate("window.__pwned") is None
    assert page.tab.inner_text("#run-name") == PAYLOAD_SCRIPT
    text = page.tab.inner_text("body")
    assert PAYLOAD_IMG in text  # config key and value, and the group, as text
    assert PAYLOAD_METRIC in page.tab.locator("figure.chart").evaluate_all("fs => fs.map(f => f.dataset.metric)")
    assert page.tab.locator("main img").count() == 0  # no image element came out of the payloads
    assert page.tab.locator("script").count() == 0
    assert page.errors == []
