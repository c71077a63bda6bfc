"""Who am I in a distributed job: global rank and world size, found once, in one place.

The main process is GLOBAL rank 0 (not each node's local rank 0). A process that is not part of a
distributed job is the main process. Launchers are checked in a fixed order; the first one whose
variables are present wins, so torchrun inside a Slurm allocation is read as torchrun.

Detection fails closed: when the rank cannot be known (an incomplete launcher environment, or
``torch.distributed`` raising while asked for it) a :class:`ConfigError` names what was seen, instead of
guessing rank 0 and opening a second run.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

__all__ = [
    "LAUNCHER_VARIABLES",
    "World",
    "detect_world",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "is_main_process",
]

# (launcher, rank variable, world-size variable, local-rank variable)
_LAUNCHERS = (
    ("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    ("openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("mpich", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
)
# Other variables launchers set, named in the error when the rank cannot be found.
_LAUNCHER_HINTS = (
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "GROUP_RANK",
    "SLURM_JOB_ID",
)
#: Every variable a supported launcher sets that says where a process is (what ``doctor`` reports, what the
#: rank errors name, what the project's tests clear from the host's environment).
LAUNCHER_VARIABLES = tuple(dict.fromkeys([name for row in _LAUNCHERS for name in row[1:]] + list(_LAUNCHER_HINTS)))


@dataclass(frozen=True)
class World:
    """This process's place in the job. ``launcher`` is ``None`` when not distributed."""

    rank: int
    world_size: int
    local_rank: int
    launcher: str | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect_world(environ: os._Environ[str] | dict[str, str] | None = None) -> World:
    """Read the launcher's variables (or an initialised torch.distributed group) at call time."""
    env: Any = os.environ if environ is None else environ
    for launcher, rank_var, size_var, local_var in _LAUNCHERS:
        if rank_var not in env:
            continue
        rank = _int_var(env, rank_var, launcher)
        if size_var not in env:
            raise ConfigError(
                f"{rank_var}={env[rank_var]!r} is set but {size_var} is not: the {launcher} environment "
                f"looks incomplete (launcher variables seen: {_seen(env)}). Launch with {launcher} (which "
                f"sets both) or unset {rank_var}."
            )
        size = _int_var(env, size_var, launcher)
        if size < 1 or not 0 <= rank < size:
            raise ConfigError(
                f"{rank_var}={rank} and {size_var}={size} are inconsistent (need 0 <= rank < world size; "
                f"launcher variables seen: {_seen(env)}); check how {launcher} was invoked"
            )
        local = _int_var(env, local_var, launcher) if local_var in env else rank
        return World(rank=rank, world_size=size, local_rank=local, launcher=launcher)
    group = _torch_distributed_world(env)
    if group is not None:
        return group
    return World(rank=0, world_size=1, local_rank=0, launcher=None)


def get_rank() -> int:
    """Global rank of this process (0 when not distributed)."""
    return detect_world().rank


def get_local_rank() -> int:
    """Rank of this process on its node (0 when not distributed)."""
    return detect_world().local_rank


def get_world_size() -> int:
    """Number of processes in the job (1 when not distributed)."""
    return detect_world().world_size


def is_main_process() -> bool:
    """True on global rank 0 and in any process that is not part of a distributed job."""
    return detect_world().is_main


def _int_var(env: Any, name: str, launcher: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ConfigError(
            f"{name}={env[name]!r} set by {launcher} is not an integer (launcher variables seen: {_seen(env)})"
        ) from None


def _torch_distributed_world(env: Any) -> World | None:
    # Only consult torch when the program already imported it: importing torch costs seconds.
    if "torch" not in sys.modules:
        return None
    dist = getattr(sys.modules["torch"], "distributed", None)
    try:
        if dist is None or not dist.is_available() or not dist.is_initialized():
            return None
        rank, size = int(dist.get_rank()), int(dist.get_world_size())
    except Exception as exc:
        raise ConfigError(
            f"cannot tell this process's rank: torch.distributed raised {type(exc).__name__}: {exc}; launcher "
            f"variables seen: {_seen(env)}. Refusing to guess rank 0 (that would open a second run). Launch "
            "with torchrun (it sets RANK and WORLD_SIZE) or set them yourself."
        ) from exc
    if size < 1 or not 0 <= rank < size:
        raise ConfigError(
            f"cannot tell this process's rank: torch.distributed reports rank {rank} of world size {size}; "
            f"launcher variables seen: {_seen(env)}. Refusing to guess rank 0; set RANK and WORLD_SIZE."
        )
    return World(rank=rank, world_size=size, local_rank=rank, launcher="torch.distributed")


def _seen(env: Any) -> str:
    found = [f"{name}={env[name]}" for name in LAUNCHER_VARIABLES if name in env]
    return ", ".join(found) if found else "none"
