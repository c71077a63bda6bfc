"""Which local process a client connection comes from, as the server can see it on Linux.

The client's TCP port names its socket in ``/proc/net/tcp``; the socket's inode names the process holding it
(``/proc/<pid>/fd``). wandb's connections come from its ``wandb-core`` service, so the writer is that
process's parent (the Python program that called ``wandb.init``). The launcher's rank variables are read from
the environment the service was started with (it inherits the program's ``os.environ`` of that moment).
Anything ``/proc`` cannot tell (another OS, another user's process, a closed connection) gives ``None``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from .records import WriterProcess

__all__ = ["RANK_VARIABLES", "peer_process"]

#: The variables launchers set to tell a process its place in a job (torchrun, Slurm, Open MPI, MPICH).
RANK_VARIABLES = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "TORCHELASTIC_RUN_ID",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_LOCALID",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "PMI_RANK",
    "PMI_SIZE",
    "MPI_LOCALRANKID",
)
_SERVICE_NAMES = ("wandb-core",)
_MAX_COMMAND = 400


def peer_process(client_port: int, server_port: int) -> WriterProcess | None:
    """The process behind the loopback connection from ``client_port`` to ``server_port``, or ``None``."""
    try:
        inode = _socket_inode(client_port, server_port)
        if inode is None:
            return None
        pid = _pid_holding(f"socket:[{inode}]")
        if pid is None:
            return None
        name = _read(f"/proc/{pid}/comm").strip()
        env = _rank_env(pid)
        writer, via = pid, None
        parent = _parent(pid)
        if name in _SERVICE_NAMES and parent is not None and parent > 1:
            writer, via = parent, name
            env = {**_rank_env(parent), **env}
        return WriterProcess(
            pid=writer,
            command=_command(writer),
            via=via,
            via_pid=pid if via is not None else None,
            env=env,
        )
    except OSError:
        return None


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _socket_inode(client_port: int, server_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = _read(table).splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == client_port and int(remote.rsplit(":", 1)[1], 16) == server_port:
                return fields[9]
    return None


def _pids() -> Iterator[int]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def _pid_holding(target: str) -> int | None:
    for pid in _pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def _parent(pid: int) -> int | None:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def _command(pid: int) -> str:
    try:
        raw = _read(f"/proc/{pid}/cmdline")
    except OSError:
        return ""
    command = " ".join(part for part in raw.split("\0") if part)
    return command if len(command) <= _MAX_COMMAND else command[: _MAX_COMMAND - 1] + "…"


def _rank_env(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        key = name.decode(errors="replace")
        if sep and key in RANK_VARIABLES:
            env[key] = value.decode(errors="replace")
    return env
