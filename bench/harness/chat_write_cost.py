"""What PostgreSQL spends per chat message: the socket's chat writer (the real code
path, coaching/realtime/chat_writer.py) stores `--messages` lines over `--sessions`
sessions of the bench database, `--batch` at a time, and this prints per message the
database's CPU (its backends for this database, from /proc: PostgreSQL must run on this
machine), commits, rows written, the indexes each row enters, and the WAL written
meanwhile (by the whole server: an upper bound on a shared one). Counts do not depend
on the machine's load; the CPU is a cost, not a latency.

    .venv/bin/python bench/harness/chat_write_cost.py [--messages 20000] [--batch 10]
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.harness import fixtures
from bench.harness.targets import cpu_seconds


def _backend_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except FileNotFoundError:
            continue  # a backend that ended
    return total


async def _measure(opts: argparse.Namespace) -> dict[str, float]:
    import asyncpg
    from asgiref.sync import sync_to_async

    from coaching.models import CoachingSession, User
    from coaching.realtime import pg
    from coaching.realtime.chat_writer import ChatWriter
    from coaching.services.chat import ChatPost

    sessions = await sync_to_async(fixtures.project_sessions)(opts.sessions)
    ids = [topic.split(":", 1)[1] for topic, _, _ in sessions]
    rows = await sync_to_async(
        lambda: list(
            CoachingSession.objects.filter(session_id__in=ids).values_list("session_id", "student")
        )
    )()
    students = await sync_to_async(
        lambda: {u.pk: u for u in User.objects.filter(pk__in=[s for _, s in rows])}
    )()
    posts = [(sid, students[student]) for sid, student in rows]
    stats = await asyncpg.connect(**pg.connection_params())
    writer = ChatWriter(writers=opts.writers)

    async def counters() -> tuple:
        db = await stats.fetchrow(
            "SELECT xact_commit, tup_inserted, tup_updated, blks_hit + blks_read,"
            " pg_current_wal_lsn() - '0/0'::pg_lsn FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
        pids = [
            r[0]
            for r in await stats.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        ]
        return tuple(db), pids

    async def store(count: int, start: int) -> None:
        for first in range(start, start + count, opts.batch):
            wave = range(first, min(first + opts.batch, start + count))
            results = await asyncio.gather(
                *(
                    writer.submit(
                        ChatPost(*posts[i % len(posts)], f"line {i} tempo looks good", f"c{i}")
                    )
                    for i in wave
                )
            )
            assert all(isinstance(r, dict) for r in results), results[:3]

    await store(opts.batch * 20, 0)  # connections made, statements prepared
    await asyncio.sleep(1)  # pg_stat_database is updated at most every second
    before, pids = await counters()
    cpu = _backend_cpu(pids)
    started = time.monotonic()
    await store(opts.messages, opts.batch * 20)
    wall = time.monotonic() - started
    cpu = _backend_cpu(pids) - cpu
    await asyncio.sleep(1.2)
    after, _ = await counters()
    commits, inserted, updated, blocks, wal = (a - b for a, b in zip(after, before, strict=True))
    indexes = await stats.fetchval(
        "SELECT count(*) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
        " WHERE t.relname IN ('coaching_chatmessage', 'coaching_sessionevent')"
    )
    await writer.close()
    await stats.close()
    n = opts.messages
    return {
        "messages": n,
        "batch": opts.batch,
        "wall s": round(wall, 2),
        "DB CPU ms per message": round(1000 * cpu / n, 4),
        "commits per message": round(commits / n, 3),
        "rows inserted per message": round(inserted / n, 3),
        "rows updated per message": round(updated / n, 3),
        "buffer pages read per message": round(blocks / n, 1),
        "indexes on the two tables": indexes,
        "WAL bytes per message (the whole server's: an upper bound)": round(wal / n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--sessions", type=int, default=250)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--writers", type=int, default=2)
    opts = parser.parse_args()
    fixtures.setup_django()
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    figures = asyncio.run(_measure(opts))
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
