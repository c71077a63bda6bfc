"""PreemptionWatch: the first preemption signal asks training to stop; the attempt then ends with Preempted,
timed from the signal so the cleanup after it fits the scheduler's kill delay."""

from __future__ import annotations

import os
import signal
import time

import pytest

from wandb_ddp_bridge.preemption import Preempted, PreemptionWatch
from wandb_ddp_bridge.signals import Terminated


def test_the_first_signal_asks_training_to_stop_and_check_ends_the_attempt() -> None:
    asked: list[int] = []
    previous = signal.getsignal(signal.SIGUSR1)
    watch = PreemptionWatch((signal.SIGUSR1,), grace=30, on_signal=asked.append).install()
    try:
        before = time.monotonic()
        os.kill(os.getpid(), signal.SIGUSR1)  # handled: training goes on to a safe point
        assert asked == [signal.SIGUSR1]
        with pytest.raises(Preempted) as ended:
            watch.check()
        watch.check()  # raised once only
    finally:
        watch.restore()
    assert isinstance(ended.value, Terminated) and ended.value.code == 128 + signal.SIGUSR1
    assert ended.value.received_at is not None and before <= ended.value.received_at <= time.monotonic()
    assert signal.getsignal(signal.SIGUSR1) == previous


def test_a_second_signal_cuts_training_off_at_once() -> None:
    watch = PreemptionWatch((signal.SIGUSR1,), grace=30, on_signal=lambda _: None).install()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        with pytest.raises(Preempted) as ended:
            os.kill(os.getpid(), signal.SIGUSR1)
    finally:
        watch.restore()
    assert ended.value.received_at == watch.received_at


def test_training_that_outlasts_the_grace_is_interrupted() -> None:
    watch = PreemptionWatch((signal.SIGUSR1,), grace=0.2, on_signal=lambda _: None).install()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        with pytest.raises(Preempted):
            for _ in range(100):  # a training step that does not end by itself
                time.sleep(0.1)
    finally:
        watch.restore()


def test_without_a_signal_nothing_happens() -> None:
    watch = PreemptionWatch((signal.SIGUSR1,), grace=30, on_signal=lambda _: None).install()
    try:
        watch.check()
    finally:
        watch.restore()
    assert watch.received is None and watch.received_at is None
