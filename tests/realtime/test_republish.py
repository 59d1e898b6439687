"""No event left behind: an event stored while its process could not reach Redis is
published again from the event log once Redis answers, so a client on another process
gets it without waiting for a later event of the session."""

import json
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.support.auth import token_for
from tests.support.proxy import TcpProxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_card_posted_while_cut_off_from_redis_reaches_the_other_process(
    spawn_server, connect, settings, service, student, active_session
):
    redis_url = urlsplit(settings.REDIS_URL)
    proxy = TcpProxy(redis_url.port or 6379, redis_url.hostname or "127.0.0.1")
    try:
        cut_off = spawn_server(
            REDIS_URL=redis_url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        )
        other = spawn_server()
        topic = active_session.topic
        with connect(student, on=other) as client:
            client.join_ok(topic)
            proxy.outage()  # the REST process loses Redis; the other process keeps it
            card = {"swing_id": "sw_1", "summary": "Open face at impact.", "metrics": {}}
            request = urllib.request.Request(
                f"{cut_off.http_url}/api/sessions/{active_session.session_id}/feedback/",
                data=json.dumps(card).encode(),
                headers={
                    "Authorization": f"Bearer {token_for(service)}",
                    "content-type": "application/json",
                },
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 201  # stored; its broadcast failed
            wait_until(  # its publish gave up (after the client's retries)
                "the cut-off process's publish to fail",
                lambda: "broadcasts failed" in cut_off.log_path.read_text(),
            )
            client.no_event(topic, "ai:feedback", wait=0.5)
            proxy.restore()
            restored = time.monotonic()
            feedback = client.event(topic, "ai:feedback", timeout=15)
            arrived = time.monotonic() - restored
        assert feedback["summary"] == "Open face at impact."
        print(f"\nthe card reached the other process's client {arrived:.2f} s after Redis was back")
    finally:
        proxy.close()
