"""Small statistics over millisecond timestamps and latencies."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile (``pct`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


def rate_per_s(times_ms: Sequence[int]) -> float:
    """Records per second between the first and the last timestamp.

    Records stamped in the very first millisecond mark the start and are not counted, so a
    burst followed by nothing is not mistaken for an infinite rate.
    """
    if len(times_ms) < 2:
        return 0.0
    ordered = sorted(times_ms)
    first, last = ordered[0], ordered[-1]
    if last <= first:
        return 0.0
    after_first = sum(1 for t in ordered if t > first)
    return after_first / ((last - first) / 1000)


def summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(latencies_ms, 50),
        "p95": percentile(latencies_ms, 95),
        "p99": percentile(latencies_ms, 99),
        "max": max(latencies_ms) if latencies_ms else None,
    }
