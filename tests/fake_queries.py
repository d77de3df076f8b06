"""Fake queries for harness tests: known service times without a model."""

from __future__ import annotations

import time
from collections.abc import Callable


def busy(us: float) -> Callable[[], None]:
    """A query that spins for ``us`` microseconds (sleep is too coarse at this scale)."""

    def query() -> None:
        end = time.perf_counter_ns() + int(us * 1000)
        while time.perf_counter_ns() < end:
            pass

    return query
