"""`wandb-ddp-bridge demo` end to end: real training, embedded server, a passing report that says 1 run."""

from __future__ import annotations

import re
import urllib.request

import pytest

pytest.importorskip("ultralytics")


@pytest.mark.slow
def test_demo_passes_with_exactly_one_run_and_every_phase(run_python) -> None:  # type: ignore[no-untyped-def]
    result = run_python("-m", "wandb_ddp_bridge", "demo", "--epochs", "2")
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert re.search(r"runs created\s+: 1 \(must be 1\)", out)
    assert "verification PASSED" in out
    assert "FAIL" not in out
    # three writers in order: created, then resumed for training, then resumed for post-training
    assert re.search(r"#0 .* created .*exit 0", out)
    assert re.search(r"#1 .* resumed \(must\) .*exit 0\s+training", out)
    assert re.search(r"#2 .* resumed \(must\) .*exit 0\s+post-training", out)
    assert "***REDACTED***" in out  # the fake api key in the saved config
    # the last lines: the server stopped with the demo, so the page's link is not presented as live
    last = out.strip().splitlines()[-2:]
    page = re.fullmatch(
        r"local server  : stopped with the demo; the run page was served at (\S+) only while it ran", last[0]
    )
    assert page is not None, last
    assert "`wandb-ddp-bridge demo --serve` keeps the server and the page open until Ctrl-C" in last[1]
    with pytest.raises(OSError):  # nothing answers at the page's address any more
        urllib.request.urlopen(page[1], timeout=5)
