"""`python -m inswing_realtime.serve [daphne's options] inswing_realtime.asgi:application`:
daphne on uvloop's event loop (`SERVER_LOOP=asyncio`: the standard one), refusing
WebSocket messages over the protocol's cap (`WEBSOCKET_MAX_FRAME_BYTES`) as they arrive,
with an access log of HTTP requests (JSON with `LOG_FORMAT=json`) less the probes, and
able to refuse a socket with an HTTP response of the app's own before the upgrade (a
429 for too many sockets; coaching/realtime/server_tuning.py).
Behind proxies, `NUM_PROXIES` says how far `X-Forwarded-For` is trusted
(inswing_realtime/proxies.py); daphne's `--proxy-headers`, which believes the header's
first entry (the client's own), is refused.

daphne creates its event loop (and Twisted's reactor on it) when its server module is
imported, so the loop policy is set before that import. uvloop's loop runs our event
loop work (the sockets' tasks, the chat writer, fan-out) with less CPU: bench/README.md.
"""

import asyncio
import logging
import os
import sys
from collections.abc import Callable

if os.environ.get("SERVER_LOOP", "uvloop") == "uvloop":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface

from coaching.realtime.server_tuning import http_response_before_upgrade, light_websocket_queues

MAX_MESSAGE_OPTION = "--websocket-max-message-size"


def with_message_cap(argv: list[str]) -> list[str]:
    """daphne's arguments, with its WebSocket message limit set to the protocol's cap
    unless given: a larger frame drops the connection before it is buffered whole or
    parsed, instead of costing a parse to refuse."""
    if any(arg.split("=")[0] == MAX_MESSAGE_OPTION for arg in argv):
        return argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inswing_realtime.settings")
    from django.conf import settings

    return [MAX_MESSAGE_OPTION, str(settings.WEBSOCKET_MAX_FRAME_BYTES), *argv]


def refuse_proxy_headers(argv: list[str]) -> None:
    """Exit with a message if daphne's proxy-header options are given: daphne takes the
    first X-Forwarded-For entry, which the client writes, for the client's address (and
    so for the throttles and /metrics' allow-list); NUM_PROXIES does it right."""
    # --proxy-headers, -host, -port, or an abbreviation argparse would take for one
    given = [arg for arg in argv if arg.split("=")[0].startswith("--proxy")]
    if given:
        sys.exit(
            f"inswing_realtime.serve: {given[0]} trusts the client's own X-Forwarded-For; "
            "set NUM_PROXIES (the proxies in front, e.g. 1 behind deploy/nginx) instead"
        )


PROBES = ("/healthz", "/readyz")
LogAction = Callable[[AccessLogGenerator, str, str, dict], None]
access_logger = logging.getLogger("access")


def access_log(log_action: LogAction, *, as_json: bool) -> LogAction:
    """daphne's access log: HTTP requests but the probes' (a line every few seconds
    each); not WebSocket connects and disconnects, which the socket logs itself with the
    user, duration and close code (coaching/realtime/socket.py). With `as_json`, through
    logging (LOG_FORMAT=json), else as daphne writes it."""

    def log(self: AccessLogGenerator, protocol: str, action: str, details: dict) -> None:
        if protocol != "http" or details.get("path") in PROBES:
            return
        if not as_json:
            log_action(self, protocol, action, details)
        elif action == "complete":
            access_logger.info(
                "%s %s",
                details["method"],
                details["path"],
                extra={
                    "status": details["status"],
                    "duration_ms": round(details.get("time_taken", 0) * 1000, 1),
                },
            )

    return log


if __name__ == "__main__":
    refuse_proxy_headers(sys.argv[1:])
    as_json = os.environ.get("LOG_FORMAT") == "json"
    AccessLogGenerator.__call__ = access_log(AccessLogGenerator.__call__, as_json=as_json)
    sys.argv[1:] = with_message_cap(sys.argv[1:])
    light_websocket_queues()
    http_response_before_upgrade()
    CommandLineInterface.entrypoint()
