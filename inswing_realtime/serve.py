"""`python -m inswing_realtime.serve [daphne's options] inswing_realtime.asgi:application`:
daphne on uvloop's event loop (`SERVER_LOOP=asyncio`: the standard one).

daphne creates its event loop (and Twisted's reactor on it) when its server module is
imported, so the loop policy is set before that import. uvloop's loop runs our event
loop work (the sockets' tasks, the chat writer, fan-out) with less CPU: bench/README.md.
"""

import asyncio
import os

if os.environ.get("SERVER_LOOP", "uvloop") == "uvloop":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from daphne.cli import CommandLineInterface

if __name__ == "__main__":
    CommandLineInterface.entrypoint()
