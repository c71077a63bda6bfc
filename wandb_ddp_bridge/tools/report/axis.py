"""Chart axes a reader can read: ticks at round values ("nice numbers"), and metric keys in natural order.

Ticks follow Heckbert's "nice numbers" (Graphics Gems, 1990): the step is 1, 2 or 5 times a power of ten, the
axis runs from a multiple of the step at or below the lowest value to one at or above the highest, and each
tick is an integer multiple of the step, so a zero tick is exactly ``0`` (not ``3.536e-07`` from adding
fractions of the range). Natural order compares the numbers inside keys as numbers: ``train/k4`` before
``train/k12``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["Ticks", "natural_key", "nice_number", "nice_ticks"]

#: Ticks wanted per axis (the result has about this many: 4 to 7).
TICKS_WANTED = 5
_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Ticks:
    """An axis from ``low`` to ``high`` with a tick every ``step`` (``low`` and ``high`` are ticks too)."""

    low: float
    high: float
    step: float
    values: tuple[float, ...]
    labels: tuple[str, ...]


def nice_number(value: float, *, rounded: bool) -> float:
    """A 1, 2, 5 or 10 times a power of ten near ``value`` (> 0): the nearest when ``rounded``, else the
    smallest at or above it."""
    exponent = math.floor(math.log10(value))
    fraction = value / 10**exponent
    if rounded:
        nice = 1 if fraction < 1.5 else 2 if fraction < 3 else 5 if fraction < 7 else 10
    else:
        nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    return float(nice * 10**exponent)


def nice_ticks(low: float, high: float, wanted: int = TICKS_WANTED) -> Ticks:
    """Round ticks covering ``[low, high]``; an empty range is widened around its value first."""
    if not high > low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_number(nice_number(high - low, rounded=False) / (wanted - 1), rounded=True)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    decimals = max(0, -math.floor(math.log10(step)))
    values = tuple(round(k * step, decimals) for k in range(first, last + 1))
    labels = tuple("0" if k == 0 else f"{v:g}" for k, v in zip(range(first, last + 1), values, strict=True))
    return Ticks(low=values[0], high=values[-1], step=step, values=values, labels=labels)


def natural_key(text: str) -> tuple[tuple[int, str], ...]:
    """Sort key that orders the digit runs of ``text`` by value: ``k4`` < ``k12``; otherwise case-insensitive."""
    parts = _NUMBER.split(text)
    return tuple((int(part), "") if i % 2 else (0, part.casefold()) for i, part in enumerate(parts))
