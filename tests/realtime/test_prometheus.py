"""GET /metrics: the process's metrics in Prometheus's text format, for the addresses
METRICS_ALLOWED_IPS allows; labels come from fixed sets, whatever clients send."""

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(server) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_lesson_shows_in_the_metrics(spawn_server, connect, student, coach, active_session):
    server = spawn_server()
    topic = active_session.topic
    with connect(student, on=server) as s, connect(coach, on=server) as c:
        s_ref, _ = s.join_ok(topic)
        c.join_ok(topic)
        assert s.call(topic, s_ref, "chat:new", {"message": "hi"})["status"] == "ok"
        c.event(topic, "chat:added")
        s.call(topic, s_ref, "made:up", {})  # unknown_event, counted as "other"
        s.send("not a frame")
        assert s.heartbeat()["status"] == "ok"  # read after the bad frame
        metrics = scrape(server)
    assert metrics[("inswing_sockets_open", ())] == 2
    assert metrics[("inswing_presence_entries", ())] == 2
    joins = ("inswing_channel_joins_total", (("outcome", "ok"), ("topic", "session")))
    assert metrics[joins] == 2
    assert metrics[("inswing_pushes_total", (("event", "chat:new"), ("status", "ok")))] == 1
    assert metrics[("inswing_pushes_total", (("event", "other"), ("status", "unknown_event")))] == 1
    assert metrics[("inswing_pushes_total", (("event", "other"), ("status", "bad_frame")))] == 1
    assert metrics[("inswing_chat_batch_size_count", ())] >= 1
    assert metrics[("inswing_broadcast_delivery_seconds_count", ())] >= 1
    assert metrics[("process_resident_memory_bytes", ())] > 0
    assert not [key for key in metrics if "made:up" in str(key)]


def test_metrics_are_refused_to_addresses_not_allowed(spawn_server):
    server = spawn_server(METRICS_ALLOWED_IPS="10.0.0.0/8")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10)
    assert refused.value.code == 403
