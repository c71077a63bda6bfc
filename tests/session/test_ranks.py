"""Rank detection for each launcher; global rank 0 is the main process, not local rank 0."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from wandb_ddp_bridge import ranks
from wandb_ddp_bridge.errors import ConfigError


@pytest.mark.parametrize(
    ("env", "rank", "size", "local", "launcher"),
    [
        ({}, 0, 1, 0, None),
        ({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, 3, 4, 1, "torchrun"),
        ({"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1"}, 5, 8, 1, "slurm"),
        ({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"}, 1, 2, 1, "openmpi"),
        ({"PMI_RANK": "0", "PMI_SIZE": "2"}, 0, 2, 0, "mpich"),
        # torchrun inside a Slurm allocation: torchrun's variables win
        ({"RANK": "0", "WORLD_SIZE": "2", "SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, 0, 2, 0, "torchrun"),
    ],
)
def test_detects_each_launcher(env: dict[str, str], rank: int, size: int, local: int, launcher: str) -> None:
    world = ranks.detect_world(env)
    assert (world.rank, world.world_size, world.local_rank, world.launcher) == (rank, size, local, launcher)
    assert world.is_main is (rank == 0)


def test_local_rank_zero_of_second_node_is_not_main() -> None:
    world = ranks.detect_world({"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0"})
    assert world.local_rank == 0 and not world.is_main


def test_rank_without_world_size_is_an_error() -> None:
    with pytest.raises(ConfigError, match="RANK='1' is set but WORLD_SIZE is not"):
        ranks.detect_world({"RANK": "1"})


def test_rank_outside_world_is_an_error() -> None:
    with pytest.raises(ConfigError, match="inconsistent"):
        ranks.detect_world({"RANK": "2", "WORLD_SIZE": "2"})


def test_non_integer_rank_is_an_error() -> None:
    with pytest.raises(ConfigError, match="not an integer"):
        ranks.detect_world({"SLURM_PROCID": "x", "SLURM_NTASKS": "2"})


def test_initialised_torch_group_is_used_when_no_launcher_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    dist = types.SimpleNamespace(
        is_available=lambda: True, is_initialized=lambda: True, get_rank=lambda: 1, get_world_size=lambda: 2
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(distributed=dist))
    world = ranks.detect_world({})
    assert (world.rank, world.world_size, world.launcher) == (1, 2, "torch.distributed")


def test_torch_is_not_imported_to_find_the_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert ranks.detect_world({}).launcher is None
    assert "torch" not in sys.modules


def test_public_helpers_read_os_environ_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert (ranks.get_rank(), ranks.get_world_size(), ranks.is_main_process()) == (1, 2, False)
    monkeypatch.setenv("RANK", "0")
    assert ranks.is_main_process()


def _failing_dist(**overrides: Any) -> types.SimpleNamespace:
    def broken() -> int:
        raise RuntimeError("Default process group has not been initialized")

    calls: dict[str, Any] = {
        "is_available": lambda: True,
        "is_initialized": lambda: True,
        "get_rank": broken,
        "get_world_size": lambda: 2,
    }
    calls.update(overrides)
    return types.SimpleNamespace(**calls)


@pytest.mark.parametrize(
    "dist",
    [
        pytest.param(_failing_dist(), id="get_rank-raises"),
        pytest.param(_failing_dist(is_initialized=lambda: 1 / 0), id="is_initialized-raises"),
        pytest.param(_failing_dist(get_rank=lambda: -1), id="rank-outside-world"),
    ],
)
def test_a_torch_distributed_error_fails_closed_naming_what_was_seen(
    monkeypatch: pytest.MonkeyPatch, dist: types.SimpleNamespace
) -> None:
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(distributed=dist))
    env = {"MASTER_ADDR": "10.0.0.1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}
    with pytest.raises(ConfigError, match="Refusing to guess rank 0") as raised:
        ranks.detect_world(env)
    assert "MASTER_ADDR=10.0.0.1" in str(raised.value) and "LOCAL_RANK=1" in str(raised.value)
    assert "WORLD_SIZE=2" in str(raised.value)


def test_a_torch_distributed_error_with_no_launcher_variables_says_none_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(distributed=_failing_dist()))
    with pytest.raises(ConfigError, match="launcher variables seen: none"):
        ranks.detect_world({})


def test_a_session_whose_rank_is_unknown_opens_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from wandb_ddp_bridge import wandb_session
    from wandb_ddp_bridge.phases import Phase
    from wandb_ddp_bridge.session import active_session

    session = wandb_session(project="p", mode="offline", dir=str(tmp_path))  # constructing reads no rank
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(distributed=_failing_dist()))
    with pytest.raises(ConfigError, match="cannot tell this process's rank"):
        session.__enter__()
    assert session.phase is Phase.NEW and active_session() is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "launcher_env",
    [
        pytest.param({"RANK": "0"}, id="world-size-missing"),
        pytest.param({"RANK": "2", "WORLD_SIZE": "2"}, id="rank-outside-the-world"),
        pytest.param({"RANK": "zero", "WORLD_SIZE": "2"}, id="rank-not-an-integer"),
    ],
)
def test_a_rank_error_names_every_launcher_variable_it_saw(launcher_env: dict[str, str]) -> None:
    env = {**launcher_env, "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    with pytest.raises(ConfigError) as raised:
        ranks.detect_world(env)
    message = str(raised.value)
    assert "MASTER_ADDR=10.0.0.1" in message and "MASTER_PORT=29500" in message, message
    assert f"RANK={launcher_env['RANK']}" in message, message
