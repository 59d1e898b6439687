"""The durable commit's latency on the bench's PostgreSQL: the yardstick of W1's tail.

Every chat line's `ok` waits for its batch's commit (`synchronous_commit` on: a WAL
flush), so W1's ack and delivery p99 cannot be below the commit's p99 on the same
machine. This commits one single-row INSERT at a time, open loop (one due every
`--interval` seconds), on a table of its own in the bench database, and prints the
latency percentiles from the due time.

    .venv/bin/python bench/commit_latency.py --count 3000 --interval 0.02
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness.open_loop import quantiles  # noqa: E402

TABLE = "bench_commit_probe"


async def measure(url: str, count: int, interval: float) -> list[float]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, at timestamptz)"
        )
        latencies = []
        start = time.monotonic()
        for n in range(count):
            due = start + n * interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await conn.execute(f"INSERT INTO {TABLE} (at) VALUES (now())")
            latencies.append((time.monotonic() - due) * 1000)
        return latencies
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/inswing_bench"
        ),
    )
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between commits")
    args = parser.parse_args()
    latencies = asyncio.run(measure(args.database_url, args.count, args.interval))
    q = quantiles(latencies)
    print(
        f"{q['n']} durable single-row commits, one every {args.interval * 1000:g} ms:"
        f" p50 {q['p50']}, p95 {q['p95']}, p99 {q['p99']}, max {q['max']} ms"
    )


if __name__ == "__main__":
    main()
