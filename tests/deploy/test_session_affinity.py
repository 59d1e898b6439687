"""Session affinity through nginx (deploy/nginx/): the sockets of one lesson, which the
room page opens with `?session=` in their URL, all go to one app process; other
lessons are spread over the processes; a socket without it takes the round robin."""

import re

from tests.deploy.topology import Front
from tests.support.auth import token_for
from tests.support.phoenix import PhoenixClient


def upstreams_of(front: Front, query: str, count: int) -> list[str]:
    """The app process nginx passed each of the `count` closed sockets with `query` to."""
    lines = front.log_lines(f"GET /socket/websocket?{query}", at_least=count)
    return [re.search(r" upstream=(\S+) ", line).group(1) for line in lines]


def test_every_socket_of_a_lesson_goes_to_one_process_and_lessons_spread(
    through, student, coach, active_session
):
    topic = active_session.topic
    opened = [
        PhoenixClient(through.socket_url, token_for(user), session=active_session.session_id)
        for user in (student, coach, student, coach, student, coach)
    ]
    try:
        s_ref, _ = opened[0].join_ok(topic)
        for tab in opened[1:]:
            tab.join_ok(topic)
        opened[0].call(topic, s_ref, "chat:new", {"message": "one process"})
        for tab in opened[1:]:
            assert tab.event(topic, "chat:added")["message"] == "one process"
    finally:
        for client in opened:
            client.close()
    # PhoenixClient puts vsn first, then the params.
    lesson = upstreams_of(through, f"vsn=2.0.0&session={active_session.session_id}&", 6)
    assert len(lesson) == 6 and len(set(lesson)) == 1, lesson

    others = [f"sess_affinity_{n}" for n in range(12)]
    for session in others:
        PhoenixClient(through.socket_url, token_for(student), session=session).close()
    spread = {upstreams_of(through, f"vsn=2.0.0&session={s}&", 1)[0] for s in others}
    assert len(spread) == 2, spread  # 12 lessons over 2 processes: both get some
