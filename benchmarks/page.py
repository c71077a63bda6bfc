"""The run page of a long run: server time to render it and its size."""

from __future__ import annotations

import os
import sys
import tempfile
import time

from wandb_ddp_bridge import wandb_session
from wandb_ddp_bridge.testing import LocalWandbServer

from .common import Row, median_ms

__all__ = ["bench_page"]

#: The page benchmark's run: what a long training logs (goal: < 200 ms of server time, < 1 MB of HTML).
PAGE_EPOCHS, PAGE_METRICS = 1000, 20
PAGE_GOAL_MS, PAGE_GOAL_BYTES = 200.0, 1_000_000


def bench_page(reps: int) -> list[Row]:
    """(f) The run page of a 1,000-epoch x 20-metric run: server time to render it (evidence from the server's
    records, the checks, the HTML) and its size, also as served over HTTP."""
    import urllib.request

    from wandb_ddp_bridge.tools.report import run_page_path, server_pages
    from wandb_ddp_bridge.tools.report.charts import MAX_DRAWN

    families = ("train", "val", "metrics", "lr")
    keys = [f"{families[i % 4]}/metric_{i}" for i in range(PAGE_METRICS)]
    with tempfile.TemporaryDirectory() as data, LocalWandbServer(data_dir=data, pages=server_pages) as server:
        saved = dict(os.environ)
        os.environ.update(server.env())
        os.environ["WANDB_DIR"] = tempfile.mkdtemp(prefix="bench-page-")
        try:
            with wandb_session(project="bench-page", name="long-run") as s:
                s.save_config({"epochs": PAGE_EPOCHS})
                with s.handoff():
                    from wandb_ddp_bridge import attach, detach

                    run = attach()
                    assert run is not None
                    for epoch in range(1, PAGE_EPOCHS + 1):
                        run.log({"epoch": epoch, **{k: 1.0 / (epoch + i) for i, k in enumerate(keys)}})
                    detach()
                s.log({"post/score": 1.0})
        finally:
            os.environ.clear()
            os.environ.update(saved)
        path = server.runs()[0].path
        route = run_page_path(path)
        render: list[float] = []
        served: list[float] = []
        size = 0
        for _ in range(max(reps, 5)):
            start = time.perf_counter()
            page = server_pages(server, route)
            render.append(time.perf_counter() - start)
            assert page is not None and page.status == 200
            size = len(page.body)
            start = time.perf_counter()
            with urllib.request.urlopen(server.url + route) as response:
                response.read()
            served.append(time.perf_counter() - start)
    ms, http_ms = median_ms(render), median_ms(served)
    print(
        f"page: {ms:.0f} ms server time ({ms / PAGE_GOAL_MS:.2f} of the 200 ms goal), {size / 1e6:.2f} MB "
        f"({size / PAGE_GOAL_BYTES:.2f} of the 1 MB goal), {http_ms:.0f} ms over HTTP",
        file=sys.stderr,
    )
    return [
        (
            f"run page, {PAGE_EPOCHS:,} epochs x {PAGE_METRICS} metrics: server time",
            f"{ms:.0f} ms",
            f"served over HTTP {http_ms:.0f} ms (records read, checks, HTML)",
            f"{ms / PAGE_GOAL_MS:.2f} of goal < 200 ms",
        ),
        (
            f"run page, {PAGE_EPOCHS:,} epochs x {PAGE_METRICS} metrics: size",
            f"{size / 1e6:.2f} MB",
            f"charts downsampled to {MAX_DRAWN} points each",
            f"{size / PAGE_GOAL_BYTES:.2f} of goal < 1 MB",
        ),
    ]
