"""Topic routing, like Phoenix's `channel "session:*", ...`."""

from coaching.realtime.channel import Channel
from coaching.realtime.lobby_channel import LobbyChannel
from coaching.realtime.session_channel import SessionChannel

ROUTES: list[tuple[str, type[Channel]]] = [
    ("session:", SessionChannel),
    ("lobby:coaches", LobbyChannel),
]


def channel_for(topic: str) -> type[Channel] | None:
    for pattern, channel in ROUTES:
        if (pattern.endswith(":") and topic.startswith(pattern) and len(topic) > len(pattern)) or (
            topic == pattern
        ):
            return channel
    return None
