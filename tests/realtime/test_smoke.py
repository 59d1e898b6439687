from tests.support.auth import token_for
from tests.support.phoenix import PhoenixClient


def test_student_joins_own_session(server, active_session, student):
    with PhoenixClient(server.socket_url, token_for(student)) as client:
        _, reply = client.join_ok(active_session.topic)
        assert reply["session"]["status"] == "active"
