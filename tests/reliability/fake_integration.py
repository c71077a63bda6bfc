"""A fake integration for the property machine (``test_properties.py``): the protocol the Ultralytics integration
implements, minimal, so a drawn program can hand off a model that trains in this process (the fast path) or
"spawns workers" (releases the parent's run, then attaches, logs an epoch and detaches, as a child would)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from support import open_run

from wandb_ddp_bridge import attachment


@dataclass(frozen=True)
class FakeModel:
    """A model the fake integration trains: in this process (fast path) or by "spawning" workers."""

    spawns: bool


class FakeIntegration:
    """The integration protocol, minimal: ``prepare`` is counted, ``train`` logs one epoch."""

    name = "fake"
    prepared = 0

    def matches(self, model: Any) -> bool:
        return isinstance(model, FakeModel)

    @contextmanager
    def prepare(self, model: Any, ctx: Any) -> Iterator[None]:
        FakeIntegration.prepared += 1
        try:
            yield
        finally:
            FakeIntegration.prepared -= 1

    def train(self, model: FakeModel, ctx: Any) -> None:
        if model.spawns:
            ctx.release_parent_run()
            child_trains()
        elif open_run() is not None:  # the fast path kept the run open for in-process training
            open_run().log({"epoch": 1})
        else:  # fast_path="never": in-process training attaches like a child
            child_trains()


FAKE = FakeIntegration()


def child_trains() -> None:
    """What a training child does, in this process: attach, log an epoch, detach (exit code 1 on error)."""
    with attachment.attached() as run:
        if run is not None:
            run.log({"epoch": 1})


class TrainingError(Exception):
    pass
