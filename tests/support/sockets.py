"""Opening a user's socket, for the `connect` and `connect_in_process` fixtures
(tests/conftest.py): the token is the user's own unless the test brings another, and
every socket opened is closed when the test ends."""

import json
from collections.abc import Callable

from channels.testing import WebsocketCommunicator

from coaching.models import User
from tests.support.auth import token_for
from tests.support.phoenix import PhoenixClient
from tests.support.servers import ServerProcess


class Connect:
    """`connect(user)`: a Phoenix V2 client of `user`'s on the test's server.

    `on`: another server process (from `spawn_server`); `token`: connect with this
    token instead of a fresh one of the user's; `origin`: an Origin header, as a
    browser sends.
    """

    def __init__(self, server: ServerProcess | None) -> None:
        self.server = server
        self.opened: list[PhoenixClient] = []

    def __call__(
        self,
        user: User,
        *,
        on: ServerProcess | None = None,
        token: str | None = None,
        origin: str | None = None,
    ) -> PhoenixClient:
        server = on or self.server
        if server is None:
            raise AssertionError("a test with spawn_server says which process: connect(user, on=)")
        client = PhoenixClient(
            server.socket_url, token if token is not None else token_for(user), origin=origin
        )
        self.opened.append(client)
        return client

    def close_all(self) -> None:
        for client in self.opened:
            client.close()


class PhoenixCommunicator(WebsocketCommunicator):
    """A socket served by the ASGI app in the test's own process (no server process),
    so that a test can hold the app's code at a gate; frames as lists."""

    async def send_frame(self, frame: list) -> None:
        await self.send_to(text_data=json.dumps(frame))

    async def receive_frame(self, wait: float = 5) -> list:
        return json.loads(await self.receive_from(timeout=wait))

    async def frames_until(self, done: Callable[[list[list]], bool], wait: float = 5) -> list:
        """The frames read until `done(frames)` holds (each within `wait` seconds)."""
        frames: list[list] = []
        while not done(frames):
            try:
                frames.append(await self.receive_frame(wait))
            except TimeoutError:
                raise AssertionError(f"no frame in {wait:g} s; read so far: {frames}") from None
        return frames

    async def join_ok(self, join_ref: str, topic: str, params: dict | None = None) -> dict:
        """Join `topic` (ref = join_ref); the ok reply's response."""
        await self.send_frame([join_ref, join_ref, topic, "phx_join", params or {}])
        reply = await self.receive_frame()
        assert reply[1] == join_ref and reply[4]["status"] == "ok", reply
        return reply[4]["response"]


class ConnectInProcess:
    """`await connect_in_process(user)`: a `PhoenixCommunicator` of `user`'s, connected."""

    def __init__(self) -> None:
        self.opened: list[PhoenixCommunicator] = []

    async def __call__(self, user: User) -> PhoenixCommunicator:
        # Imported here: the socket's module is read once Django is set up.
        from coaching.realtime.socket import PhoenixSocket

        comm = PhoenixCommunicator(
            PhoenixSocket.as_asgi(), f"/socket/websocket?vsn=2.0.0&token={token_for(user)}"
        )
        connected, _ = await comm.connect(timeout=5)
        assert connected, f"the socket of {user.username} was refused"
        self.opened.append(comm)
        return comm

    async def close_all(self) -> None:
        for comm in self.opened:
            await comm.disconnect()
