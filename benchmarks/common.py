"""What every benchmark shares: the row format, medians, interleaved A/B repetitions, the local backend."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator

from wandb_ddp_bridge.testing import LocalWandbServer

__all__ = ["Row", "interleaved", "local_backend", "median_ms"]

Row = tuple[str, str, str, str]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextlib.contextmanager
def local_backend(*, spawned: bool = False) -> Iterator[LocalWandbServer]:
    """The one local server of a benchmark run: main() opens it once around every benchmark that talks to
    W&B, because wandb's process-wide settings keep the first base URL they saw. ``spawned``: served from a
    child process, so its request handling does not share this process's GIL (the checkpoint uploads)."""
    with tempfile.TemporaryDirectory() as data:
        server = LocalWandbServer.spawn(data_dir=data) if spawned else LocalWandbServer(data_dir=data).start()
        saved = dict(os.environ)
        os.environ.update(server.env())
        os.environ["WANDB_DIR"] = tempfile.mkdtemp(prefix="bench-wandb-")
        try:
            yield server
        finally:
            os.environ.clear()
            os.environ.update(saved)
            server.stop()


def interleaved(reps: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for _ in range(reps):
        xs.append(a())
        ys.append(b())
    return xs, ys
