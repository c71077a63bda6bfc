"""The local server's sweep search: grid order and size, random draws within their bounds, the run cap, and
the configurations it refuses (each naming what is not implemented)."""

from __future__ import annotations

import random

import pytest

from wandb_ddp_bridge.testing.sweep_search import SearchError, SweepSearch, parse_config


def test_grid_walks_every_point_once_then_ends() -> None:
    search = SweepSearch(
        {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "b": {"values": ["x", "y"]}, "c": {"value": 0}}}
    )
    points = [search.trial(i, random.Random(0)) for i in range(5)]
    assert points[:4] == [
        {"a": 1, "b": "x", "c": 0},
        {"a": 1, "b": "y", "c": 0},
        {"a": 2, "b": "x", "c": 0},
        {"a": 2, "b": "y", "c": 0},
    ]
    assert points[4] is None and search.size == 4


def test_random_draws_stay_in_bounds_and_the_run_cap_ends_the_search() -> None:
    search = SweepSearch(
        {
            "method": "random",
            "run_cap": 20,
            "parameters": {
                "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2},
                "layers": {"distribution": "int_uniform", "min": 1, "max": 3},
                "drop": {"distribution": "uniform", "min": 0.1, "max": 0.2},
                "opt": {"values": ["sgd", "adam"]},
            },
        }
    )
    rng = random.Random(1)
    draws = [search.trial(i, rng) for i in range(20)]
    assert all(d is not None for d in draws) and search.trial(20, rng) is None
    assert all(1e-4 <= d["lr"] <= 1e-2 and d["layers"] in (1, 2, 3) and 0.1 <= d["drop"] <= 0.2 for d in draws if d)
    assert {d["opt"] for d in draws if d} == {"sgd", "adam"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"method": "bayes", "parameters": {"a": {"values": [1]}}},
            "'bayes' is not implemented by the local W&B server",
        ),
        (
            {"method": "grid", "parameters": {"a": {"distribution": "uniform", "min": 0.0, "max": 1.0}}},
            "grid search needs 'values'",
        ),
        ({"method": "random", "parameters": {"a": {"distribution": "q_normal", "mu": 0, "sigma": 1}}}, "'a'"),
        ({"method": "random", "parameters": {"a": {"parameters": {"b": {"value": 1}}}}}, "nested sweep parameters"),
        ({"method": "random"}, "no 'parameters'"),
    ],
)
def test_what_the_local_server_does_not_search_is_refused_by_name(config: dict[str, object], message: str) -> None:
    with pytest.raises(SearchError, match=message.replace("(", r"\(")):
        SweepSearch(config)


def test_the_configuration_arrives_as_yaml() -> None:
    assert parse_config("method: grid\nparameters:\n  a:\n    values: [1, 2]\n")["parameters"]["a"]["values"] == [1, 2]
    with pytest.raises(SearchError, match="not valid YAML"):
        parse_config("method: [grid")
