"""The checkpoint uploader never stalls its caller: one job in flight, a newer one replaces the queued one,
failures are counted and contained, the final wait is bounded, and its thread yields the CPU to training."""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field

import pytest

from wandb_ddp_bridge.artifacts.uploader import BACKGROUND_NICENESS, LatestOnlyUploader


@dataclass
class _Job:
    name: str
    ran: list[str]
    gate: threading.Event | None = None
    fail: bool = False
    discarded: list[str] = field(default_factory=list)

    def run(self) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            raise OSError(f"{self.name}: network down")
        self.ran.append(self.name)

    def discard(self) -> None:
        self.discarded.append(self.name)


def test_a_newer_job_replaces_the_queued_one_and_submit_never_waits() -> None:
    ran: list[str] = []
    gate = threading.Event()
    uploader = LatestOnlyUploader("test upload")
    first, second, third = _Job("1", ran, gate), _Job("2", ran), _Job("3", ran)
    started = time.monotonic()
    uploader.submit(first)
    time.sleep(0.05)  # job 1 is in flight, held by the gate
    uploader.submit(second)
    uploader.submit(third)
    assert time.monotonic() - started < 1, "submitting never waits for an upload"
    gate.set()
    assert uploader.close(5)
    assert ran == ["1", "3"] and second.discarded == ["2"] and uploader.replaced == 1


def test_a_failed_job_is_counted_and_the_next_one_still_runs() -> None:
    ran: list[str] = []
    uploader = LatestOnlyUploader("test upload")
    uploader.submit(_Job("bad", ran, fail=True))
    assert uploader.wait(5)
    uploader.submit(_Job("good", ran))
    assert uploader.close(5)
    assert ran == ["good"] and uploader.errors == 1


def test_the_final_wait_is_bounded() -> None:
    uploader = LatestOnlyUploader("test upload")
    gate = threading.Event()
    uploader.submit(_Job("slow", [], gate))
    started = time.monotonic()
    assert uploader.close(0.2) is False
    assert time.monotonic() - started < 2
    gate.set()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_uploads_run_at_a_lower_cpu_priority_than_the_training_thread() -> None:
    seen: list[int] = []

    class _Probe(_Job):
        def run(self) -> None:
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    uploader = LatestOnlyUploader("test upload")
    uploader.submit(_Probe("probe", []))
    assert uploader.close(5)
    training = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(training + BACKGROUND_NICENESS, 19)], "the uploader's thread is nicer than its caller"
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == training, "the caller's priority is kept"
