"""The session's event log: every persisted event takes the session's next `seq` and a
row in the log whose payload carries that seq.

The one owner of "append with the next seq". Actions that hold the session row's lock
(`lookup.locked_session`) use `next_seq` and `append`; the statement-level writers on
the socket path (chat batches, participant notices) build their single statements from
`take_seqs_sql` and `append_sql`, so the seq counter and the log row are written the
same way everywhere.
"""

from typing import Any

from coaching.models import CoachingSession, SessionEvent

SESSIONS = CoachingSession._meta.db_table
LOG = SessionEvent._meta.db_table


def next_seq(session: CoachingSession) -> int:
    """Take the session's next seq. The caller holds the session row's lock."""
    session.last_seq += 1
    CoachingSession.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    return session.last_seq


def append(
    session: CoachingSession,
    event: str,
    payload: dict[str, Any],
    *,
    seq: int | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """Append `event` to the session's log (with `seq`, taken by `next_seq` for a record
    stored with it, else the next one); returns the payload with its seq."""
    if seq is None:
        seq = next_seq(session)
    payload = {**payload, "seq": seq}
    SessionEvent.objects.create(
        session=session, seq=seq, event=event, payload=payload, dedupe_key=dedupe_key
    )
    return payload


def take_seqs_sql(*, where: str, count: str = "1", source: str | None = None) -> str:
    """An UPDATE moving `last_seq` of the sessions `where` selects (alias `cs`, joined
    with `source` if given) by `count` each; it locks their rows (and reads their latest
    version, as `lookup.locked_session` does), and RETURNs `id` and `base`, the seq
    before the first one taken."""
    joined = f"FROM {source} " if source else ""
    return f"""
        UPDATE {SESSIONS} AS cs SET last_seq = cs.last_seq + {count}
        {joined}WHERE {where}
        RETURNING cs.id, cs.last_seq - {count} AS base"""


def append_sql(rows: str) -> str:
    """An INSERT of log rows from `rows`, a query yielding `(session, seq, event, payload,
    at)` (`payload` as jsonb); each payload gets its seq."""
    return f"""
        INSERT INTO {LOG} (session_id, seq, event, payload, created_at)
        SELECT r.session, r.seq, r.event, jsonb_set(r.payload, '{{seq}}', to_jsonb(r.seq)), r.at
        FROM ({rows}) AS r(session, seq, event, payload, at)"""
