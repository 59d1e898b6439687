"""What an action broadcasts, captured in-process (no channel layer involved)."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.test import TestCase

from coaching import broadcasts

Broadcast = tuple[str, str, dict]


@contextmanager
def captured_broadcasts() -> Iterator[list[Broadcast]]:
    """Collects `(topic, event, payload)` of what the block broadcasts.

    Broadcasts wait for their transaction to commit; inside a test's transaction
    that never happens, so the block's on-commit callbacks run when it exits:
    read the list after the `with`.
    """
    sent: list[Broadcast] = []

    async def publish(*args) -> None:
        sent.append(args)

    with (
        broadcasts.plugged(lambda *args: sent.append(args), publish),
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        yield sent


def events_named(sent: list[Broadcast], event: str) -> list[dict]:
    return [payload for _, name, payload in sent if name == event]
