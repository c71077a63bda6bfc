"""The run page without a browser: escaping, scale, downsampling, redaction, the timeline's sources and labels,
`verify --html`, `serve` and the local server's page routes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_verify import make_run, verify

from wandb_ddp_bridge.phases import MARKERS_KEY
from wandb_ddp_bridge.testing import LocalWandbServer
from wandb_ddp_bridge.tools.report import render_page, run_page_path, server_pages
from wandb_ddp_bridge.tools.report.charts import MAX_DRAWN, downsample
from wandb_ddp_bridge.tools.report.timeline import holder_of
from wandb_ddp_bridge.tools.verify import (
    ArtifactInfo,
    Expectations,
    MediaInfo,
    ProcessInfo,
    RunEvidence,
    SessionInfo,
    WriterInfo,
    check_run,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "<script>window.x=1</script>"
IMG = '"><img src=x onerror="window.x=2">'
T0 = 1_800_000_000.0
MARKERS = {
    "pre_start": T0,
    "pre_end": T0 + 1,
    "training_start": T0 + 1.5,
    "training_end": T0 + 9,
    "post_start": T0 + 9.5,
    "post_end": T0 + 10,
}


def evidence(**overrides: Any) -> RunEvidence:
    """A finished three-phase run with two epochs, as a backend would report it."""
    values: dict[str, Any] = {
        "path": "ent/proj/abc123",
        "source": "test",
        "found": True,
        "state": "finished",
        "name": "job",
        "config": {"epochs": 2, "lr": 0.01},
        "summary": {MARKERS_KEY: MARKERS},
        "history": [
            {"_step": e - 1, "epoch": e, "train/box_loss": 1.0 / e, "metrics/mAP50(B)": 0.1 * e, "lr/pg0": 0.01}
            for e in (1, 2)
        ],
        "artifacts": [ArtifactInfo("config", "config", "v0", created=T0 + 0.5, size=120, aliases=("latest",))],
    }
    values.update(overrides)
    return RunEvidence(**values)


def page(ev: RunEvidence, **expect: Any) -> str:
    return render_page(check_run(ev, Expectations(**expect)))


def test_every_value_that_comes_from_a_run_is_text_on_the_page() -> None:
    process = ProcessInfo(pid=7, command=f"python {SCRIPT}", env={"RANK": "0", "WORLD_SIZE": "2"})
    ev = evidence(
        name=SCRIPT,
        path=f"ent/proj/{IMG}",
        group=IMG,
        url=f"javascript:{SCRIPT}",
        config={IMG: IMG, "nested": {SCRIPT: [SCRIPT]}},
        history=[{"epoch": 1, f"train/{IMG}": 1.0, f"lr/{SCRIPT}": 0.1}],
        artifacts=[ArtifactInfo(IMG, SCRIPT, IMG, created=T0 + 0.5, size=1, aliases=(SCRIPT,))],
        sessions=[SessionInfo(0, T0, T0 + 10, IMG, 0, True, False, writer_id=IMG, process=process)],
        writers={IMG: WriterInfo(IMG, host=SCRIPT, program=IMG)},
        media=[MediaInfo(key=IMG, path=f"media/{IMG}.png", data=b"\x89PNG", format=IMG)],
        created_count=1,
        resumed_count=0,
    )
    html = page(ev)
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    assert html.count("<img") == 1  # the one image the run logged, nothing from the payloads
    assert 'href="javascript:' not in html  # only http(s) run URLs become links
    assert html.count("&lt;script&gt;") >= 8
    assert "&quot;&gt;&lt;img src=x onerror=&quot;" in html


def test_a_1000_epoch_run_of_20_metrics_is_downsampled_and_under_1_mb() -> None:
    keys = [f"{('train', 'val', 'metrics', 'lr')[i % 4]}/m{i}" for i in range(20)]
    history = [{"epoch": e, **{k: 1.0 / (e + i) for i, k in enumerate(keys)}} for e in range(1, 1001)]
    html = page(evidence(history=history, config={"epochs": 1000}))
    assert len(html.encode()) < 1_000_000
    assert 'id="downsampled"' in html and "1,000 epochs" in html
    polylines = re.findall(r'<polyline points="([^"]*)"', html)
    assert len(polylines) == 20
    assert all(len(p.split()) == MAX_DRAWN for p in polylines)
    assert "<circle" not in html  # dots only on short runs
    assert html.count('data-points="1000"') == 20


def test_downsampling_keeps_the_ends_and_the_peak() -> None:
    points = [(float(x), 1.0) for x in range(5000)]
    points[2345] = (2345.0, 99.0)
    drawn = downsample(points, 100)
    assert len(drawn) == 100
    assert drawn[0] == points[0] and drawn[-1] == points[-1]
    assert (2345.0, 99.0) in drawn
    assert downsample(points[:50], 100) == points[:50]


def test_a_short_run_has_one_dot_per_epoch_for_every_metric() -> None:
    html = page(evidence())
    charts = re.findall(r'<figure class="chart" data-metric="([^"]+)" data-points="(\d+)">(.*?)</figure>', html)
    assert [c[0] for c in charts] == ["train/box_loss", "metrics/mAP50(B)", "lr/pg0"]
    assert all(points == "2" and body.count("<circle") == 2 for _, points, body in charts)


def test_charts_come_in_natural_key_order_within_their_family() -> None:
    keys = ["train/k4", "train/k12", "train/k8", "train/k0", "loss", "lr/pg1", "accuracy"]
    history = [{"epoch": e, **{k: 1.0 / (e + i) for i, k in enumerate(keys)}} for e in (1, 2)]
    html = page(evidence(history=history))
    charts = re.findall(r'<figure class="chart" data-metric="([^"]+)"', html)
    # Ultralytics' families first (train, then lr), keys without a family last
    assert charts == ["train/k0", "train/k4", "train/k8", "train/k12", "lr/pg1", "accuracy", "loss"]


def test_secrets_in_the_config_are_redacted_even_when_the_run_stored_them() -> None:
    html = page(
        evidence(config={"wandb": {"api_key": "sk-live-123", "project": "p"}, "note": "key sk-other"}),
        secrets=("sk-other",),
    )
    assert "sk-live-123" not in html and "sk-other" not in html
    assert html.count("***REDACTED***") >= 3  # the note, the api_key, and the explanation


def test_without_writer_sessions_the_bars_are_the_phase_spans_of_the_markers() -> None:
    html = page(evidence())
    rows = re.findall(r'<div class="tl-row" data-phase="(\w+)">.*?class="phase-name">([^<]+)<', html)
    assert rows == [("pre", "PRE"), ("training", "training"), ("post", "POST")]
    assert html.count("exit code not recorded") == 3
    assert "not reported by this backend" in html


def test_writer_sessions_are_labelled_by_the_phase_they_held() -> None:
    sessions = [
        SessionInfo(0, T0 - 0.2, T0 + 1.2, "none", 0, True, False),
        SessionInfo(1, T0 + 2, T0 + 9.2, "must", 0, True, False),
        SessionInfo(2, T0 + 9.3, T0 + 10.2, "must", 0, True, False),
    ]
    html = page(evidence(sessions=sessions, created_count=1, resumed_count=2))
    rows = re.findall(r'data-phase="(\w+)" data-exit="0">.*?class="phase-name">([^<]+)<', html)
    assert rows == [("pre", "PRE"), ("training", "training"), ("post", "POST")]
    assert "created once / resumed 2 times" in html
    fast = page(evidence(sessions=[SessionInfo(0, T0 - 0.2, T0 + 11, "none", 0, True, False)]))
    assert "PRE · training · POST (one writer: in-process fast path)" in fast


def test_the_holder_says_only_what_was_observed() -> None:
    worker = ProcessInfo(
        pid=42,
        command="python -u /x/_temp_1.py",
        via="wandb-core",
        via_pid=43,
        env={"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"},
    )
    label, detail, rank = holder_of(worker, None)
    assert label == "pid 42 · global rank 0 of 2 · python -u _temp_1.py" and rank == 0
    assert detail is not None and "RANK=0" in detail and "wandb-core (pid 43)" in detail
    label, _, rank = holder_of(ProcessInfo(pid=5, command="python train.py"), None)
    assert label == "pid 5 · not distributed · python train.py" and rank is None
    label, _, _ = holder_of(ProcessInfo(pid=5, command="x", env={"RANK": "3"}), None)
    assert label is not None and "rank unclear" in label  # RANK without WORLD_SIZE: not guessed
    label, _, _ = holder_of(None, WriterInfo("w", host="node1", program="/a/train.py"))
    assert label == "train.py on node1 (process and rank not recorded)"
    assert holder_of(None, None) == (None, None, None)


def test_verify_html_writes_one_self_contained_page(wandb_server: Any, tmp_path: Path) -> None:
    path = make_run()
    target = tmp_path / "page.html"
    result = verify(path, "--html", str(target))
    assert result.exit_code == 0, result.output
    assert f"run page written to {target}" in result.output
    html = target.read_text()
    assert "<script" not in html and '<link rel="stylesheet"' not in html
    assert not re.search(r'src="https?:', html)  # nothing loaded from anywhere
    assert "<style>" in html and "Content-Security-Policy" in html
    # the local server's own records came along over HTTP: three writer sessions with their exit codes
    assert html.count('data-exit="0"') == 3
    assert 'data-artifact="best"' in html


def test_the_local_server_serves_the_run_page_and_an_index(wandb_server: Any) -> None:
    path = make_run()
    wandb_server.pages = server_pages
    with urllib.request.urlopen(wandb_server.url + run_page_path(path)) as response:
        html = response.read().decode()
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "script-src" not in response.headers["Content-Security-Policy"]
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "verification PASSED" in html and html.count('data-exit="0"') == 3
    with urllib.request.urlopen(wandb_server.url + "/") as response:
        index = response.read().decode()
    assert run_page_path(path) in index
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(wandb_server.url + "/ent/proj/runs/nope")
    assert missing.value.code == 404


def test_pages_need_no_key_but_the_protocol_and_records_do(wandb_server: Any) -> None:
    wandb_server.pages = None
    with pytest.raises(urllib.error.HTTPError) as no_renderer:
        urllib.request.urlopen(wandb_server.url + "/")
    assert no_renderer.value.code == 404 and b"wandb-ddp-bridge serve" in no_renderer.value.read()
    for method, route in (("POST", "/graphql"), ("GET", "/__local__/records/a/b/c")):
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(
                urllib.request.Request(
                    wandb_server.url + route, data=b"{}" if method == "POST" else None, method=method
                )
            )
        assert denied.value.code == 401, route


def test_a_server_reachable_beyond_loopback_warns(tmp_path: Path) -> None:
    server = LocalWandbServer(tmp_path, host="0.0.0.0")
    with pytest.warns(UserWarning, match="reachable from other machines"):
        server.start()
    server.stop()


def test_serve_prints_the_addresses_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_ddp_bridge", "serve", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("listening on http://127.0.0.1:"), lines
        url = lines[0].split()[-1]
        assert lines[1].startswith(f"run pages: {url}/"), lines
        with urllib.request.urlopen(url + "/") as response:
            assert b"Runs on this local W&amp;B server" in response.read()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert out.rstrip().endswith("stopped")
