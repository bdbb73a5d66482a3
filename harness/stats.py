"""Latency statistics shared by ops/ and bench/, so that a p99 means the same thing in `make load` and `make bench`."""
from __future__ import annotations

import math


def percentile(sorted_values: list[float], p: float) -> float:
    """The p-th percentile of ascending sorted_values: the sample of rank floor(p/100 * n) + 1 (1-based).

    That is the smallest sample with more than p % of the samples at or below it, and it is the definition
    wrk uses (stats_percentile in wrk 4's stats.c: rank = round(p/100 * n + 0.5)), so bench/load.py's
    Python generator and wrk report the same statistic. It is the nearest-rank percentile (rank
    ceil(p/100 * n)) except when p/100 * n is a whole number, where it takes the next sample:
    the p50 of [1, 2, 3, 4] is 3, the p99 of 100 samples the 100th. Always one of the samples, never
    interpolated. NaN when there are none.
    """
    n = len(sorted_values)
    if not n:
        return float("nan")
    return sorted_values[min(n - 1, max(0, math.floor(p * n / 100)))]
