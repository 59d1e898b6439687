"""A session's event log in tests: what an `eid` looks like (coaching/eventlog.py), and
a database that loses the latest events of a session."""

import re

from coaching.models import ChatMessage, CoachingSession, SessionEvent

EID = re.compile(r"[A-Za-z0-9_-]{12}")


def is_eid(value: object) -> bool:
    return isinstance(value, str) and EID.fullmatch(value) is not None


def lose_events_after(session: CoachingSession, seq: int) -> None:
    """As if the commits of the session's chat after `seq` never reached the disk (an
    asynchronous commit, a failover to a lagging replica): their rows are gone and the
    session's seq counter is back at `seq`, so the next events take those seqs again."""
    ChatMessage.objects.filter(session=session, seq__gt=seq).delete()
    SessionEvent.objects.filter(session=session, seq__gt=seq).delete()
    CoachingSession.objects.filter(pk=session.pk).update(last_seq=seq)
