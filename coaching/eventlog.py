"""The session's event log: every persisted event takes the session's next `seq` and a
row in the log whose payload carries that seq and the event's `eid`.

The one owner of "append with the next seq". Actions that hold the session row's lock
(`lookup.locked_session`) use `next_seq` and `append`; the statement-level writers on
the socket path (chat batches, participant notices) build their single statements from
`take_seqs_sql` and `append_sql`, so the seq counter and the log row are written the
same way everywhere.

`eid` tells events apart where seqs cannot: a database that loses committed rows (an
asynchronous commit, a failover to a lagging replica) hands their seqs out again, and
a client that saw a lost event knows by its eid that the event now at that seq is
another (docs/protocol.md, Recovery). Every payload gets it from `stamped`: `append`
stamps it, and the SQL writers stamp the payloads they build in Python before the
write. A record whose payload is built again from its row later (chat, cards,
checkpoints, annotations) is created with an eid (`models.event_id_field`) that its
payload carries into the log.
"""

from typing import Any

from coaching.models import CoachingSession, SessionEvent, new_event_id

SESSIONS = CoachingSession._meta.db_table
LOG = SessionEvent._meta.db_table


def next_seq(session: CoachingSession) -> int:
    """Take the session's next seq. The caller holds the session row's lock."""
    session.last_seq += 1
    CoachingSession.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    return session.last_seq


def stamped(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` with its `eid`: the one it carries (its record's), else a new one."""
    if payload.get("eid"):
        return payload
    return {**payload, "eid": new_event_id()}


def append(
    session: CoachingSession,
    event: str,
    payload: dict[str, Any],
    *,
    seq: int | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """Append `event` to the session's log (with `seq`, taken by `next_seq` for a record
    stored with it, else the next one); returns the payload with its seq and eid."""
    if seq is None:
        seq = next_seq(session)
    payload = {**stamped(payload), "seq": seq}
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
    at)` (`payload` as jsonb, `stamped`); each payload gets its seq."""
    return f"""
        INSERT INTO {LOG} (session_id, seq, event, payload, created_at)
        SELECT r.session, r.seq, r.event, jsonb_set(r.payload, '{{seq}}', to_jsonb(r.seq)), r.at
        FROM ({rows}) AS r(session, seq, event, payload, at)"""
