"""The live review's latency, open loop: what recording the review costs the room.

    .venv/bin/python bench/review_latency.py --targets project@REF,project --sessions 50

For each target (this checkout, or `project@REF` for an older commit) a fresh server
process (one, on BENCH_DATABASE_URL / BENCH_REDIS_URL) serves `--sessions` rooms, each
with a swing, its coach and its student. Each coach sends `review:update` at `--rate` a
second (open loop: update k of a room is due at start + offset + k / rate, whether or
not the server keeps up): a seek to position k, playing for five updates then paused
for five, so the recorder has play/pause changes to keep and seeks to coalesce. The
student times each `review:state` from its update's due time (its `position_ms` is k).
Printed per target: the updates measured, lost (no state 3 s after the last), the
student's p50/p95/p99/max ms, the coach's reply p99, the generator's own lag p99 (a
run above 10 ms is flagged INVALID), the server's CPU-seconds per 1,000 updates and the
review rows the run wrote. First, what the recording rules cost per change in this
process (`recording_cost`), which bounds what the live path pays for recording. Figures,
not assertions.
"""

import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness.open_loop import Room, arguments, frame, measure, serve  # noqa: E402

PORT = 18780
SWING_MS = 600_000
LIMITS = {"CLIENT_EVENTS_PER_SECOND": "1000", "CLIENT_EVENTS_BURST": "1000"}


class ReviewRoom(Room):
    """One session: the coach seeks at `rate`, the student times the states."""

    def __init__(self, url: str, topic: str, tokens: tuple[str, str], offset: float) -> None:
        super().__init__(offset)
        self.url, self.topic, self.tokens = url, topic, tokens

    async def run(self, start: float, rate: float, until: float, ready: asyncio.Barrier) -> None:
        import websockets

        url = f"{self.url}?vsn=2.0.0&token="
        async with (
            websockets.connect(url + self.tokens[0]) as student,
            websockets.connect(url + self.tokens[1]) as coach,
        ):
            for ws in (student, coach):
                await ws.send(frame("1", "1", self.topic, "phx_join", {}))
                while json.loads(await ws.recv())[3] != "phx_reply":
                    pass
            sent: dict[str, float] = {}
            reading = asyncio.gather(self._student(student), self._coach(coach, sent))
            await ready.wait()
            async for k in self.sends(start, rate, until):
                sent[str(k + 1)] = self.due[k]
                payload = {"position_ms": k, "playing": (k // 5) % 2 == 0}
                await coach.send(frame("1", str(k + 1), self.topic, "review:update", payload))
            await asyncio.sleep(3)
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    async def _student(self, ws) -> None:
        async for text in ws:
            f = json.loads(text)
            if f[3] == "review:state":
                self.saw(f[4]["position_ms"])

    async def _coach(self, ws, sent: dict[str, float]) -> None:
        async for text in ws:
            f = json.loads(text)
            if f[3] == "phx_reply" and f[1] in sent:
                self.acks.append((time.monotonic() - sent.pop(f[1])) * 1000)


def recording_cost(changes: int = 100_000, rooms: int = 100) -> dict:
    """What the recording adds to the live path, in this process: the rules' bookkeeping
    per change (`Recording.state`, the call a handler makes after its broadcast) and
    per change taken by the writer (`due`), for rooms scrubbing and playing/pausing."""
    from coaching.services.review import initial_state
    from coaching.services.review_recording import Recording

    recording = Recording()
    base = initial_state({"id": "1", "name": "Pro"}, "sw_1")
    states = [
        {**base, "position_ms": k, "playing": (k // 5) % 2 == 0, "server_ts": k, "version": k}
        for k in range(changes // rooms)
    ]
    started = time.perf_counter()
    for k, state in enumerate(states):
        for room in range(rooms):
            recording.state(str(room), state, k * 10)
    noted = time.perf_counter() - started
    started = time.perf_counter()
    rows = len(recording.due(1 << 62))
    taken = time.perf_counter() - started
    return {
        "state_us_per_change": round(noted / changes * 1e6, 2),
        "due_us_per_change": round(taken / changes * 1e6, 2),
        "rows_per_change": round(rows / changes, 2),
    }


def rooms_with_a_swing(count: int) -> list[tuple[str, str, str]]:
    from bench.harness import fixtures
    from coaching.models import CoachingSession, Swing

    rooms = fixtures.project_sessions(count)
    sessions = CoachingSession.objects.filter(
        session_id__in=[topic.split(":", 1)[1] for topic, _, _ in rooms]
    )
    Swing.objects.bulk_create(
        Swing(session=s, seq=0, swing_id="sw_1", video_url="/v.mp4", duration_ms=SWING_MS)
        for s in sessions
    )
    return rooms


def review_rows(rooms) -> int:
    from coaching.models import ReviewRecord

    ids = [topic.split(":", 1)[1] for topic, _, _ in rooms]
    return ReviewRecord.objects.filter(session__session_id__in=ids).count()


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "updates")
    from bench.harness import fixtures

    fixtures.setup_django()
    print("recording, in this process:", json.dumps(recording_cost()), flush=True)
    for name in args.targets.split(","):
        rooms = rooms_with_a_swing(args.sessions)

        def run(urls: list[str], rooms=rooms) -> dict:
            reviews = [
                ReviewRoom(urls[0], topic, (student, coach), i / len(rooms) / args.rate)
                for i, (topic, student, coach) in enumerate(rooms)
            ]
            figures = asyncio.run(measure(reviews, args.rate, args.warmup, args.duration))
            time.sleep(1)  # the last states settle and are written
            return figures

        figures, cpu = serve(name, 1, PORT, LIMITS, run)
        result = {
            "updates": figures["measured"],
            "lost": figures["lost"],
            "student_ms": figures["latency_ms"],
            "ack_p99_ms": figures["ack_p99_ms"],
            "lag_p99_ms": figures["lag_p99_ms"],
            "valid": figures["valid"],
        }
        sent = args.sessions * args.rate * (args.warmup + args.duration)
        result["server_cpu_s_per_1k_updates"] = round(cpu / sent * 1000, 3)
        result["review_rows"] = review_rows(rooms)
        print(name, json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
