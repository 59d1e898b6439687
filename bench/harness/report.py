"""The run's report: JSON with every figure, and Markdown tables of the main ones."""

from typing import Any


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _n(value: float | None, fmt: str = "{:.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _cores(result: dict[str, Any]) -> str:
    busy = result.get("cores_busy")  # reports from before it was measured have none
    if busy is None:
        return "-"
    groups = ("server", "generator", "postgres", "redis", "other")
    parts = ", ".join(f"{busy[k]:.2f}" for k in groups)
    return f"{parts} = {busy['machine']:.2f}"


def _label(run: dict[str, Any]) -> str:
    return f"{run['target']} x{run['servers']}"


def _w1(runs: list[dict]) -> list[str]:
    lines = [
        "| target | sockets joined (failed) | join p99 ms | sent | lost | dup | out of order "
        "| errors | p50 | p95 | p99 | max ms | ack p99 | deliveries/s | CPU s / 1k deliv. "
        "| Redis PUBLISH / 1k deliv. | RSS MiB | gen. lag p99 ms | valid |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        r, j, lat = run["result"], run["result"]["joins"], run["result"]["latency_ms"]
        lines.append(
            f"| {_label(run)} | {j['joined']} ({j['failed']}) | {_ms(j['join_ms']['p99'])} "
            f"| {r['sent']} | {r['lost']} | {r['duplicated']} | {r['out_of_order']} "
            f"| {r['error_replies']} | {_ms(lat['p50'])} | {_ms(lat['p95'])} | {_ms(lat['p99'])} "
            f"| {_ms(lat['max'])} | {_ms(r['ack_ms']['p99'])} | {_n(r['deliveries_per_s'])} "
            f"| {_n(r['server_cpu_s_per_1k_deliveries'], '{:.3f}')} "
            f"| {_n(r.get('redis_publishes_per_1k_deliveries'))} | {r['rss_kib'] / 1024:.0f} "
            f"| {_ms(r['generator_lag_ms']['p99'])} | {'yes' if r['valid'] else 'INVALID'} |"
        )
    return lines


def _w2(runs: list[dict]) -> list[str]:
    lines = [
        "| target | msg/s per session | offered deliv./s | delivered/s | lost | p50 | p99 "
        "| max ms | CPU s / 1k deliv. | Redis PUBLISH / 1k deliv. "
        "| cores busy: server, gen., PG, Redis, other = all | gen. lag p99 ms | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    knees = []
    for run in runs:
        for s in run["result"]["steps"]:
            lat = s["latency_ms"]
            lines.append(
                f"| {_label(run)} | {s['rate_per_session']:g} "
                f"| {_n(s['offered_deliveries_per_s'])} "
                f"| {_n(s['deliveries_per_s'])} | {s['lost']} | {_ms(lat['p50'])} "
                f"| {_ms(lat['p99'])} | {_ms(lat['max'])} "
                f"| {_n(s['server_cpu_s_per_1k_deliveries'], '{:.3f}')} "
                f"| {_n(s.get('redis_publishes_per_1k_deliveries'))} | {_cores(s)} "
                f"| {_ms(s['generator_lag_ms']['p99'])} "
                f"| {'yes' if s['pass'] else ('INVALID' if not s['valid'] else 'no')} |"
            )
        knees.append(f"{_label(run)}: {_n(run['result']['knee_deliveries_per_s'])}")
    return [*lines, "", "Knee (deliveries/s): " + "; ".join(knees)]


def _w3(runs: list[dict]) -> list[str]:
    lines = [
        "| target | sockets | joined | failed | all joined s | join p50 | p99 | max ms "
        "| server CPU s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for s in run["result"]["storms"]:
            j = s["join_ms"]
            lines.append(
                f"| {_label(run)} | {s['sockets']} | {s['joined']} | {s['failed']} "
                f"| {s['all_joined_s']:.2f} | {_ms(j['p50'])} | {_ms(j['p99'])} | {_ms(j['max'])} "
                f"| {s['server_cpu_s']:.1f} |"
            )
    return lines


def _w4(runs: list[dict]) -> list[str]:
    lines = [
        "| target | idle joined sockets | failed | RSS MiB | KiB per socket |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        for p in run["result"]["points"]:
            lines.append(
                f"| {_label(run)} | {p['sockets']} | {p.get('failed', '-')} "
                f"| {p['rss_kib'] / 1024:.1f} | {_n(p.get('kib_per_socket'), '{:.1f}')} |"
            )
    return lines


TABLES = {"W1": _w1, "W2": _w2, "W3": _w3, "W4": _w4}
TITLES = {
    "W1": "W1: steady chat (open loop; latency from the scheduled send to each other member)",
    "W2": "W2: rate steps (knee: last step with p99 < 50 ms and nothing lost)",
    "W3": "W3: connect + join storm (all sockets at once)",
    "W4": "W4: RSS of idle joined sockets",
}


def markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    out = [
        f"# Benchmark {meta['started']}",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Machine: {meta['cpus']} cores, load average at start {meta['loadavg']}; "
        f"generator: {meta['generators']} processes on the same cores; "
        f"git {meta['git']}.",
        "",
    ]
    died = [f"{r['workload']} {_label(r)}" for r in report["runs"] if r["result"]["server_exits"]]
    if died:
        out += [f"**INVALID: a server process died during {', '.join(died)}.**", ""]
    for workload in meta["workloads"]:
        runs = [r for r in report["runs"] if r["workload"] == workload]
        if runs:
            out += [f"## {TITLES[workload]}", "", *TABLES[workload](runs), ""]
    return "\n".join(out)
