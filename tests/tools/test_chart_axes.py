"""Chart axes: round Y ticks ("nice numbers") and metric keys in natural order, computed by hand here."""

from __future__ import annotations

import re

import pytest

from wandb_ddp_bridge.tools.report.axis import natural_key, nice_ticks
from wandb_ddp_bridge.tools.report.charts import Series, chart_svg


@pytest.mark.parametrize(
    ("low", "high", "labels"),
    [
        # range 1 -> nice 1; 1/4 = 0.25 -> step 0.2
        (0.0, 1.0, ["0", "0.2", "0.4", "0.6", "0.8", "1"]),
        # a minimum just above zero: range ~0.9 -> nice 1 -> step 0.2, from 0
        (3.536e-07, 0.9, ["0", "0.2", "0.4", "0.6", "0.8", "1"]),
        # range 20 -> nice 20; 20/4 = 5 -> step 5
        (-3.0, 17.0, ["-5", "0", "5", "10", "15", "20"]),
        # learning rates: range 2.02e-05 -> nice 5e-05; /4 = 1.25e-05 -> step 1e-05
        (2e-05, 4.02e-05, ["2e-05", "3e-05", "4e-05", "5e-05"]),
        # a flat series is widened by 1 around zero: range 2 -> step 0.5
        (0.0, 0.0, ["-1", "-0.5", "0", "0.5", "1"]),
        # range 400 -> nice 500; 125 -> step 100
        (1200.0, 1600.0, ["1200", "1300", "1400", "1500", "1600"]),
    ],
)
def test_ticks_sit_at_round_values(low: float, high: float, labels: list[str]) -> None:
    ticks = nice_ticks(low, high)
    assert list(ticks.labels) == labels
    assert ticks.low <= low and ticks.high >= high


def test_a_chart_whose_lowest_value_is_almost_zero_labels_its_bottom_tick_0() -> None:
    svg = chart_svg(Series("train/loss", ((1.0, 0.9), (2.0, 0.5), (3.0, 3.536e-07))))
    labels = re.findall(r'class="ylab">([^<]*)</text>', svg)
    assert labels == ["0", "0.2", "0.4", "0.6", "0.8", "1"]


def test_keys_sort_in_natural_order() -> None:
    keys = ["train/k4", "train/k12", "train/k8", "train/k0", "train/K1"]
    assert sorted(keys, key=natural_key) == ["train/k0", "train/K1", "train/k4", "train/k8", "train/k12"]
