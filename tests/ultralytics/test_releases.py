"""Release comparisons of the Ultralytics fact table (PEP 440 via packaging, release numbers only)."""

from __future__ import annotations

import pytest

from wandb_ddp_bridge.integrations.ultralytics import releases


@pytest.mark.parametrize(
    ("older", "newer"),
    [("8.3.9", "8.3.10"), ("8.3.199", "8.4.0"), ("8.4.99", "8.4.100"), ("8.3", "8.3.1"), ("unknown", "8.3.0")],
)
def test_releases_compare_numerically(older: str, newer: str) -> None:
    assert releases.parse(older) < releases.parse(newer)


@pytest.mark.parametrize("build", ["8.4.184rc1", "8.4.184.dev0", "8.4.184+cu121", " 8.4.184 ", "8.4.184.0"])
def test_a_pre_dev_or_local_build_counts_as_its_release(build: str) -> None:
    assert releases.parse(build) == releases.parse("8.4.184")
    assert releases.holds("native_epoch_step_metric", build)  # holds from 8.4.184 on
    assert not releases.holds("native_finishes_foreign_run", build)  # held until 8.4.184


def test_fact_boundaries_and_the_tested_range() -> None:
    holds = releases.holds
    assert holds("native_wandb_default_on", "8.3.22") and not holds("native_wandb_default_on", "8.3.23")
    assert not holds("pretrain_start_in_init", "8.3.183") and holds("pretrain_start_in_init", "8.3.184")
    assert releases.tested(releases.OLDEST_TESTED) and releases.tested(releases.NEWEST_TESTED)
    assert not releases.tested("8.2.103") and not releases.tested("9.0.0") and not releases.tested("garbage")
