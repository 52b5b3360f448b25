"""Percentiles and a uniform way to print benchmark figures."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.1f}ms p90={percentile(ms, 90):.1f}ms "
        f"p99={percentile(ms, 99):.1f}ms max={max(ms):.1f}ms mean={statistics.fmean(ms):.1f}ms"
    )
