"""A client that follows the rules is never pushed into the rate limit by a PostgreSQL
outage or a reconnect: refusals it could not help cost no tokens, and resends of lines
already stored are answered from the store for free. So every line is stored once and
none is given up."""

import time
from dataclasses import dataclass, field

import pytest
from django.db import connection

from coaching.models import ChatMessage
from tests.support import servers
from tests.support.phoenix import PhoenixClient
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)

RETRY_AFTER_S = 0.5


@dataclass
class Outbox:
    """The page's outbox (static/coaching/room/outbox.js) in Python: lines keep their
    client_msg_id, go one at a time, and wait `retry_after_ms` when told to."""

    client: PhoenixClient
    topic: str
    join_ref: str
    waiting: list[tuple[str, str]] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)  # client_msg_id -> seq
    refusals: dict[str, int] = field(default_factory=dict)  # reason -> count

    def send_one(self) -> None:
        text, cid = self.waiting[0]
        ref = self.client.push(
            self.topic, "chat:new", {"message": text, "client_msg_id": cid}, self.join_ref
        )
        try:
            reply = self.client.reply(ref, timeout=10)
        except TimeoutError:
            return  # sent again
        if reply["status"] == "ok":
            self.waiting.pop(0)
            self.acked[cid] = reply["response"]["message"]["seq"]
            return
        reason = reply["response"]["reason"]
        self.refusals[reason] = self.refusals.get(reason, 0) + 1
        time.sleep(reply["response"].get("retry_after_ms", 1000) / 1000)


def test_an_outage_and_a_reconnect_store_every_line_once_and_refuse_none_for_the_rate(
    spawn_server, connect, student, active_session
):
    db = connection.settings_dict
    port = int(db.get("PORT") or 5432)
    proxy = TcpProxy(port, db.get("HOST") or "127.0.0.1")
    try:
        url = servers.test_database_url().replace(f":{port}/", f":{proxy.port}/")
        # A budget of ten lines and nearly no refill: enough for the lines written, not
        # for paying the outage's refusals or the resends too.
        server = spawn_server(
            DATABASE_URL=url,
            OUTAGE_RETRY_AFTER_SECONDS=str(RETRY_AFTER_S),
            CHAT_RATE_PER_SECOND="0.01",
            CHAT_RATE_BURST="10",
        )
        topic = active_session.topic
        client = connect(student, on=server)
        join_ref, _ = client.join_ok(topic)
        outbox = Outbox(client, topic, join_ref)
        written = 0

        def write() -> None:
            nonlocal written
            outbox.waiting.append((f"line {written}", f"c{written}"))
            written += 1

        for _ in range(3):
            write()
        while outbox.waiting:
            outbox.send_one()
        proxy.outage()
        down_at = time.monotonic()
        while time.monotonic() - down_at < 4:  # a line a second, retried as told
            if len(outbox.waiting) < time.monotonic() - down_at:
                write()
            outbox.send_one()
        unavailable = outbox.refusals.get("unavailable", 0)
        proxy.restore()
        deadline = time.monotonic() + 30
        while outbox.waiting and time.monotonic() < deadline:
            outbox.send_one()
        # A reconnect whose acks were lost: every acknowledged line comes again.
        client.close()
        client = connect(student, on=server)
        outbox.client, (outbox.join_ref, _) = client, client.join_ok(topic)
        before = dict(outbox.acked)
        outbox.waiting = [(f"line {i}", f"c{i}") for i in range(written)]
        while outbox.waiting and time.monotonic() < deadline:
            outbox.send_one()
        client.close()
    finally:
        proxy.close()

    assert unavailable > 0, "the outage was not felt"
    assert not outbox.waiting, "lines given up"
    assert outbox.acked == before  # the resends answered with the stored seqs
    assert outbox.refusals.get("rate_limited", 0) == 0
    rows = list(ChatMessage.objects.filter(session=active_session).order_by("seq"))
    assert [m.client_msg_id for m in rows] == [f"c{i}" for i in range(written)]
    print(
        f"PostgreSQL down 4 s: {written} lines written, {unavailable} pushes answered "
        f"unavailable and retried after {RETRY_AFTER_S} s, all {written} resent after a "
        "reconnect; every line stored once, none rate-limited or given up"
    )
