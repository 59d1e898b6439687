"""A small synchronous Phoenix V2 client for Python tests (the JS client has its own tests).

It speaks the wire format directly so tests can also send what phoenix.js never
would: malformed frames, wrong types, stale refs.
"""

import json
import time
from typing import Any
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


class PhoenixClient:
    def __init__(self, url: str, token: str | None, *, origin: str | None = None, **params: str):
        query = {"vsn": "2.0.0", **params}
        if token is not None:
            query["token"] = token
        headers = {"Origin": origin} if origin else None
        # max_queue=None: frames the test has not read yet are buffered, never left on
        # the wire; websockets' default pauses reading at 16, and a paused client never
        # sees the server's close frame, so its close() waits out close_timeout (10 s).
        self.ws: ClientConnection = connect(
            f"{url}?{urlencode(query)}",
            additional_headers=headers,
            open_timeout=5,
            max_queue=None,
            legacy=True,
        )
        self._ref = 0
        self.inbox: list[list] = []  # frames read but not yet taken

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> "PhoenixClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    def send(self, frame: list | str) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def push(self, topic: str, event: str, payload: dict, join_ref: str | None) -> str:
        ref = self.next_ref()
        self.send([join_ref, ref, topic, event, payload])
        return ref

    def _read(self, timeout: float) -> list:
        return json.loads(self.ws.recv(timeout=timeout))

    def expect(self, predicate, timeout: float = 5.0) -> list:
        """The first frame (queued or new) matching `predicate`; others stay queued."""
        for i, frame in enumerate(self.inbox):
            if predicate(frame):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame; got {self.inbox[-5:]}")
            frame = self._read(remaining)
            if predicate(frame):
                return frame
            self.inbox.append(frame)

    def reply(self, ref: str, timeout: float = 5.0) -> dict:
        """The phx_reply payload `{status, response}` for `ref`."""
        return self.expect(lambda f: f[3] == "phx_reply" and f[1] == ref, timeout)[4]

    def event(self, topic: str, event: str, timeout: float = 5.0, where=None) -> dict:
        def match(f: list) -> bool:
            return f[2] == topic and f[3] == event and (where is None or where(f[4]))

        return self.expect(match, timeout)[4]

    def no_event(self, topic: str, event: str, wait: float = 0.5, where=None) -> None:
        try:
            frame = self.event(topic, event, timeout=wait, where=where)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {event}: {frame}")

    def join(self, topic: str, params: dict | None = None) -> tuple[str, dict]:
        """Join; returns (join_ref, reply). The reply may be ok or error."""
        ref = self.next_ref()
        self.send([ref, ref, topic, "phx_join", params or {}])
        return ref, self.reply(ref)

    def join_ok(self, topic: str, params: dict | None = None) -> tuple[str, dict]:
        join_ref, reply = self.join(topic, params)
        assert reply["status"] == "ok", reply
        return join_ref, reply["response"]

    def call(self, topic: str, join_ref: str, event: str, payload: dict[str, Any]) -> dict:
        return self.reply(self.push(topic, event, payload, join_ref))

    def heartbeat(self) -> dict:
        return self.reply(self.push("phoenix", "heartbeat", {}, None))

    def wait_closed(self, timeout: float) -> tuple[int, str | None]:
        """Reads until the server closes the socket: (close code, `disconnect` reason)."""
        reason = None
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                frame = self._read(deadline - time.monotonic())
                if frame[2] == "phoenix" and frame[3] == "disconnect":
                    reason = frame[4]["reason"]
        except ConnectionClosed as exc:
            return exc.rcvd.code, reason
        raise AssertionError(f"socket still open after {timeout} s")
