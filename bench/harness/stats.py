"""Summaries of the raw figures a run collects."""

from typing import Any


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def latency_summary(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": values[-1] if values else None,
    }


def delivery_summary(
    run: dict[str, Any], *, duration: float, cpu_s: float, max_lag_ms: float
) -> dict[str, Any]:
    """Figures of one open-loop run (raw lists replaced by percentiles)."""
    lags = latency_summary(run["lags"])
    lost = run["expected"] - run["delivered"]
    return {
        "sent": run["sent"],
        "expected": run["expected"],
        "delivered": run["delivered"],
        "lost": lost,
        "duplicated": run["duplicated"],
        "out_of_order": run["out_of_order"],
        "error_replies": run["errors"],
        "error_samples": run["error_samples"],
        "latency_ms": latency_summary(run["latencies"]),
        "ack_ms": latency_summary(run["acks"]),
        "deliveries_per_s": run["delivered"] / duration,
        "offered_deliveries_per_s": run["expected"] / duration,
        "server_cpu_s": cpu_s,
        "server_cpu_s_per_1k_deliveries": cpu_s / (run["delivered"] / 1000)
        if run["delivered"]
        else None,
        "generator_cpu_s": run["generator_cpu_s"],
        "generator_lag_ms": lags,
        # The generator fell behind its own schedule: the load was not what was asked.
        "valid": (lags["p99"] or 0) <= max_lag_ms,
    }


def join_summary(opened: dict[str, Any]) -> dict[str, Any]:
    return {
        "sockets": opened["sockets"],
        "joined": opened["joined"],
        "failed": opened["failed"],
        "failure_samples": opened["failure_samples"],
        "all_joined_s": opened["all_joined_s"],
        "join_ms": latency_summary(opened["join_ms"]),
    }
