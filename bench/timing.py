"""How the benchmarks time the app beside hand-written SQL: the same cases, interleaved, in one
run, reported as p50/p95 and the ratio of the p95s."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile of durations in seconds, in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return round(statistics.median(ordered) * 1000, 2), round(p95 * 1000, 2)


def measure(
    name: str,
    runs: int,
    app: Callable[[int], object],
    plain: Callable[[int], object],
    results: dict[str, float],
    cases: int = 3,
) -> None:
    """Time `runs` calls of each side, after one untimed call per distinct case on both sides:
    steady state, as a server sees the same views all day (the app compiles each distinct query
    shape once per process; that first call costs a few ms more and is not in these figures)."""
    app_times, sql_times = [], []
    for i in range(cases):  # warm both paths
        app(i)
        plain(i)
    for i in range(runs):
        started = time.perf_counter()
        app(i)
        app_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        plain(i)
        sql_times.append(time.perf_counter() - started)
    app_p50, app_p95 = percentiles_ms(app_times)
    sql_p50, sql_p95 = percentiles_ms(sql_times)
    results.update(
        {
            f"{name}_p50_ms": app_p50,
            f"{name}_p95_ms": app_p95,
            f"{name}_sql_p50_ms": sql_p50,
            f"{name}_sql_p95_ms": sql_p95,
            f"{name}_ratio": round(app_p95 / sql_p95, 2) if sql_p95 else 0.0,
        }
    )
    print(
        f"{name:16s} app p50 {app_p50:7.2f} ms  p95 {app_p95:7.2f} ms | plain SQL p50 "
        f"{sql_p50:7.2f} ms  p95 {sql_p95:7.2f} ms | ratio {results[f'{name}_ratio']}",
        file=sys.stderr,
    )
