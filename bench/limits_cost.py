"""What a push's limit check costs (coaching/realtime/ratelimit.py): this process's own
token buckets (no Redis, or Redis down) against the cluster-wide leases on a real Redis,
per push, and how many Redis round trips the leases make. Figures, printed.

    .venv/bin/python bench/limits_cost.py [--redis URL] [--pushes 10000] [--users 250] [--every 1]

`users` push `chat:new` (the `client` and `chat` buckets, the default rates) in turns,
each a line `every` seconds, under the chat rate (W1's senders: 250, one a second);
then one user pushes flat out, refused at the limit.
"""

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inswing_realtime.settings")


async def measure(limits, users: range, pushes: int, pace: float) -> tuple[float, int]:
    """(the process's CPU µs per push, background work included; pushes passed):
    `pushes` chat lines from `users` in turns, a round every `pace` seconds (0: flat
    out)."""
    passed = 0
    started = time.process_time()
    for n in range(pushes):
        if await limits.check(users[n % len(users)], "chat:new") == 0:
            passed += 1
        if pace and n % len(users) == len(users) - 1:
            await asyncio.sleep(pace)
        else:
            await asyncio.sleep(0)  # the next frame arrives: the loop runs other work
    await asyncio.sleep(0.1)  # lease top-ups still in flight
    return (time.process_time() - started) / pushes * 1e6, passed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
    )
    parser.add_argument("--pushes", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=250)
    parser.add_argument("--every", type=float, default=1.0, help="s between a user's lines")
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    from coaching.realtime import cluster_limits
    from coaching.realtime.ratelimit import Limits

    round_trips = [0]
    lease = cluster_limits.LimitStore.lease

    async def counted(self, *a):
        round_trips[0] += 1
        return await lease(self, *a)

    cluster_limits.LimitStore.lease = counted
    for name, url in (("per process (no Redis)", ""), ("cluster-wide (Redis)", args.redis)):
        settings.REDIS_URL = url
        settings.REALTIME_PREFIX = f"bench-limits-{uuid.uuid4().hex[:8]}"
        limits = Limits()
        round_trips[0] = 0
        steady, passed = await measure(limits, range(args.users), args.pushes, args.every)
        trips_steady = round_trips[0]
        round_trips[0] = 0
        flat, passed_flat = await measure(limits, range(-1, 0), args.pushes, 0)  # a new user
        print(
            f"{name}: steady senders {steady:.1f} CPU-µs per push ({passed}/{args.pushes} "
            f"passed, {trips_steady} Redis round trips); one user flat out {flat:.1f} "
            f"CPU-µs per push ({passed_flat} passed, {round_trips[0]} round trips)",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
