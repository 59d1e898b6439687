"""`session:{session_id}`: the lesson's chat, state, analysis events and presence.

A share link's viewer (role `share`) watches read-only: it gets the events, the state
and the review, but no presence, and each of its pushes is refused. It is tracked in
the topic's presence under the reserved key WATCHERS_KEY (so a crashed process's
viewers are reaped like anyone), which the others never see: their presence leaves it
out, and `presence:watching` tells them how many watch (docs/protocol.md).
"""

import asyncio
import time
from typing import Any

from django.conf import settings

from coaching import events, policy
from coaching.errors import ServiceError, invalid
from coaching.realtime import call_room, ratelimit, review_room
from coaching.realtime.channel import Channel, RejoinNeeded
from coaching.realtime.chat_writer import chat_writer as make_chat_writer
from coaching.realtime.db import in_db_thread
from coaching.realtime.departures import Departure, departures, entry_mark
from coaching.realtime.notices import participant_announce
from coaching.realtime.presence import (
    PRESENCE_DIFF,
    PRESENCE_STATE,
    State,
    get_presence,
    new_ref,
)
from coaching.realtime.snapshots import snapshot_reads
from coaching.realtime.socket_reads import Diverged, socket_reads
from coaching.services import call, review
from coaching.services.annotations import annotation_save
from coaching.services.chat import ChatPost, Resend
from coaching.services.notices import PARTICIPANT_JOINED
from coaching.services.sessions import session_control

# Chat lines from every socket of this process, stored a batch per transaction.
chat_writer = make_chat_writer()

# The presence key share viewers are tracked under (a user's key is their id: digits).
WATCHERS_KEY = "share"
# To every other join: how many share viewers watch now, `{"count": n}`.
WATCHING = "presence:watching"

# A user who drops and comes back within this many seconds is not announced again.
ENTRY_NOTICE_QUIET_SECONDS = 300

MAX_EID_CHARS = 64
# The eids of this many of the latest events a join sent are kept: a broadcast at one
# of their seqs with another eid means the database lost them and gave the seqs again.
RECENT_EIDS = 8


def _last_seq_param(params: dict[str, Any]) -> int | None:
    value = params.get("last_seq")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid("last_seq", "last_seq must be a non-negative integer.")
    try:
        number = int(value)
    except ValueError:
        raise invalid("last_seq", "last_seq must be a non-negative integer.") from None
    if number < 0:
        raise invalid("last_seq", "last_seq must be a non-negative integer.")
    return number


def _last_eid_param(params: dict[str, Any]) -> str | None:
    value = params.get("last_eid")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_EID_CHARS:
        raise invalid("last_eid", f"last_eid must be a string of 1-{MAX_EID_CHARS} chars.")
    return value


def _optional_str(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is not None and not isinstance(value, str):
        raise invalid(field, f"{field} must be a string.")
    return value


class SessionChannel(Channel):
    role: str
    # The seq of the latest event sent on this join, and its eid.
    last_seq: int = 0
    last_eid: str | None = None
    presence_ref: str | None = None
    presence_meta: dict[str, Any] | None = None  # this connection's, as tracked
    preview_over = False
    _entering: asyncio.Task | None = None
    _replay: list[tuple[str, dict]] = []
    _recent: dict[int, str | None]  # seq -> eid of the latest events sent (RECENT_EIDS)
    _watchers: set[str]  # the share viewers' presence refs, as this join knows them

    @property
    def session_id(self) -> str:
        return self.topic.split(":", 1)[1]

    async def join(self, params: dict[str, Any]) -> dict[str, Any]:
        last_seq = _last_seq_param(params)
        last_eid = _last_eid_param(params)
        session, snapshot = await snapshot_reads.read(self.session_id)
        self.role = policy.check_join(self.user, session)
        reply = {**snapshot, "you": {**events.sender(self.user), "session_role": self.role}}
        self._recent, self._watchers = {}, set()
        for entry in reply["events"][-RECENT_EIDS:]:
            self._sent(entry["payload"])
        self.last_seq, self.last_eid = reply["last_seq"], reply["last_eid"]
        if last_seq is not None:
            reply["recovery"] = await self._recovery(last_seq, last_eid, session.last_seq)
        return reply

    async def _recovery(self, last_seq: int, last_eid: str | None, current: int) -> dict:
        """What a rejoin that holds the events up to `last_seq` (the one there: `last_eid`)
        gets: the events it missed, or the snapshot when they are too many or when the
        log it holds is not the server's (the database lost events it saw)."""
        if last_seq > current:  # it saw events the log no longer has
            reason = "too_far_behind" if last_eid is None else "diverged"
            return {"mode": "snapshot", "reason": reason}
        try:
            missed = await socket_reads().events_after(self.session_id, last_seq, last_eid)
        except Diverged:
            return {"mode": "snapshot", "reason": "diverged"}
        if missed is None:
            return {"mode": "snapshot", "reason": "too_far_behind"}
        self._replay = missed
        for _, payload in missed:
            self._sent(payload)
        if missed and missed[-1][1]["seq"] > self.last_seq:
            self.last_seq, self.last_eid = missed[-1][1]["seq"], missed[-1][1].get("eid")
        return {"mode": "replay", "after_seq": last_seq, "count": len(missed)}

    def _sent(self, payload: dict[str, Any]) -> None:
        """Remember the eid of a logged event sent on this join (the latest RECENT_EIDS)."""
        self._recent[payload["seq"]] = payload.get("eid")
        if len(self._recent) > RECENT_EIDS:
            del self._recent[min(self._recent)]

    def _seen_another(self, seq: int, payload: dict[str, Any]) -> bool:
        """Whether this join sent another event at `seq` than `payload` (by their eids)."""
        sent = self._recent.get(seq)
        eid = payload.get("eid")
        return sent is not None and eid is not None and sent != eid

    async def after_join(self) -> None:
        for event, payload in self._replay:
            await self.push(event, payload)
        self._replay = []
        presence = get_presence()
        if self.role == policy.PREVIEW:
            # A coach looking before claiming sees who is there but is not listed.
            await self._push_presence_state(await presence.list(self.topic))
            return
        self.presence_ref = new_ref()
        if self.role == policy.SHARE:
            # Counted, never listed, and shown nobody's presence.
            key, meta = WATCHERS_KEY, {"phx_ref": self.presence_ref}
        else:
            key = str(self.user.pk)
            self.presence_meta = meta = {
                "phx_ref": self.presence_ref,
                "name": self.user.display_name,
                "role": self.user.public_role,
                "online_at": int(time.time() * 1000),
                "connection": "ok",
                "lost_at": None,
            }
        # Its own task: a socket that closes right now must not cancel it between the
        # track and the entry notice (the leave would then mark as announced an entry
        # never announced, and hide the next one). `terminate` waits for it, so the
        # leave comes after it.
        self._entering = asyncio.get_running_loop().create_task(self._enter(key, meta))
        state = await asyncio.shield(self._entering)
        # Done: the task would keep the state (every connection of the topic) for as
        # long as the join lasts, so that N joins of a topic held N² metas.
        self._entering = None
        if self.role != policy.SHARE:
            await self._push_presence_state(
                state if state is not None else await presence.list(self.topic)
            )

    async def _push_presence_state(self, state: State) -> None:
        """Who is here, without the share viewers, then how many of them watch."""
        watchers = state.get(WATCHERS_KEY)
        self._watchers = {meta["phx_ref"] for meta in watchers["metas"]} if watchers else set()
        await self.push(PRESENCE_STATE, {k: v for k, v in state.items() if k != WATCHERS_KEY})
        await self.push(WATCHING, {"count": len(self._watchers)})

    async def _presence_out(self, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """A presence broadcast as this join gets it: none for a share viewer; for the
        others without the share viewers, whose count follows when it changed."""
        if self.role == policy.SHARE:
            return None
        if event == PRESENCE_STATE:
            await self._push_presence_state(payload)
            return None
        joins, leaves = payload.get("joins") or {}, payload.get("leaves") or {}
        if WATCHERS_KEY not in joins and WATCHERS_KEY not in leaves:
            return payload
        before = len(self._watchers)
        self._watchers |= {m["phx_ref"] for m in joins.get(WATCHERS_KEY, {}).get("metas", [])}
        self._watchers -= {m["phx_ref"] for m in leaves.get(WATCHERS_KEY, {}).get("metas", [])}
        if len(self._watchers) != before:
            await self.push(WATCHING, {"count": len(self._watchers)})
        joins = {k: v for k, v in joins.items() if k != WATCHERS_KEY}
        leaves = {k: v for k, v in leaves.items() if k != WATCHERS_KEY}
        return {"joins": joins, "leaves": leaves} if joins or leaves else None

    async def _enter(self, key: str, meta: dict[str, Any]) -> State | None:
        """Track this join and announce a first entry; the topic's presence as tracked
        (None when Redis failed: the state is asked for again)."""
        announced = self.role in (policy.STUDENT, policy.COACH)
        mark = (entry_mark(self.topic, key), ENTRY_NOTICE_QUIET_SECONDS) if announced else None
        tracked = await get_presence().track(self.topic, key, meta, mark_first=mark)
        if tracked.marked:
            await participant_announce(
                PARTICIPANT_JOINED, session_id=self.session_id, user=self.user, role=self.role
            )
        return tracked.state

    async def connection_changed(self, lost: bool) -> None:
        """The socket went silent (or was heard again): the others see this connection as
        `connection: "lost"` (since `lost_at`), or back to "ok". The new meta is tracked
        before the old one goes, so nobody is shown gone meanwhile (docs/protocol.md)."""
        if self.presence_ref is None or self.presence_meta is None:
            return
        presence = get_presence()
        old_ref, ref = self.presence_ref, new_ref()
        meta = {
            **self.presence_meta,
            "phx_ref": ref,
            "connection": "lost" if lost else "ok",
            "lost_at": int(time.time() * 1000) if lost else None,
        }
        await presence.track(self.topic, str(self.user.pk), meta)
        self.presence_ref, self.presence_meta = ref, meta
        await presence.untrack(self.topic, old_ref)

    async def handle_in(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        policy.check_push(self.role)
        if event == "chat:new":
            post = ChatPost(
                self.session_id, self.user, payload.get("message"), payload.get("client_msg_id")
            )
            result = await chat_writer.submit(post)
            if isinstance(result, ServiceError):
                raise result
            if isinstance(result, Resend):
                # Stored before (the outbox resends after a reconnect): costs no token.
                ratelimit.user_limits.refund(self.user.pk, event)
                return {"message": result.payload}
            return {"message": result}
        if event == "session:control":
            status = _optional_str(payload, "status")
            step = _optional_str(payload, "current_step")
            return await in_db_thread(session_control)(
                session_id=self.session_id, actor=self.user, status=status, current_step=step
            )
        if event == "annotation:save":
            return await in_db_thread(annotation_save)(
                session_id=self.session_id,
                coach=self.user,
                swing_id=payload.get("swing_id"),
                time_ms=payload.get("time_ms"),
                shapes=payload.get("shapes"),
                note=payload.get("note", ""),
            )
        if event in review_room.EVENTS:
            return await review_room.handle(event, self.session_id, self.user, self.role, payload)
        if event in call_room.EVENTS:
            return await call_room.handle(event, self.session_id, self.user, payload)
        raise ServiceError("unknown_event", f"Unknown event {event!r}.")

    async def handle_out(self, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        if self.role == policy.PREVIEW and self._preview_is_over(event, payload):
            return None
        if event in (PRESENCE_STATE, PRESENCE_DIFF):
            return await self._presence_out(event, payload)
        if self.role in (policy.STUDENT, policy.COACH) and call.ends_calls(event, payload):
            await call_room.lesson_ended(self.session_id)
        seq = payload.get("seq")
        if review.is_own_stroke(event, payload, self.user):
            return None
        if not isinstance(seq, int):
            return payload  # ephemeral: progress ticks, presence, review
        if seq <= self.last_seq:
            if self._seen_another(seq, payload):
                # The database lost events this join sent and gave their seqs again:
                # the client's log is not the server's, and its rejoin resets it.
                raise RejoinNeeded("diverged")
            return None  # already sent: in the join reply, the replay or a gap fill
        if seq > self.last_seq + 1:
            # Events before this one were lost on the way (the channel layer delivers at
            # most once) or overtaken: send them from the log first, in order.
            for missed_event, missed_payload in await self._missed():
                if missed_payload["seq"] < seq:
                    await self.push(missed_event, missed_payload)
                    self._sent(missed_payload)
        self.last_seq, self.last_eid = seq, payload.get("eid")
        self._sent(payload)
        return payload

    async def _missed(self) -> list[tuple[str, dict]]:
        """The events after the latest one sent, from the log, if it still holds that one."""
        try:
            missed = await socket_reads().events_after(
                self.session_id, self.last_seq, self.last_eid
            )
        except Diverged:
            raise RejoinNeeded("diverged") from None
        if missed is None:
            raise RejoinNeeded("too_far_behind")
        return missed

    async def catch_up(self) -> None:
        """After the channel layer lost broadcasts: the events missed (from the log),
        then who is here and the review state, which are not in the log."""
        for event, payload in await self._missed():
            out = await self.handle_out(event, payload)
            if out is not None:
                await self.push(event, out)
        if self.preview_over:
            return
        if self.role != policy.SHARE:
            await self._push_presence_state(await get_presence().list(self.topic))
        state = await review_room.stored_review(self.session_id)
        if state is not None:
            await self.push("review:state", state)

    def _preview_is_over(self, event: str, payload: dict[str, Any]) -> bool:
        """A preview sees the session until another coach claims it: that `session:state`
        is the last event it gets (the page then leaves)."""
        if self.preview_over:
            return True
        coach = payload.get("coach") if event == "session:state" else None
        if coach is not None and coach.get("id") != str(self.user.pk):
            self.preview_over = True
        return False

    async def terminate(self, *, by_server_stop: bool = False) -> None:
        if self._entering is not None:
            await asyncio.wait({self._entering})
        if self.presence_ref is not None:
            ref, self.presence_ref = self.presence_ref, None
            leave = await get_presence().untrack(self.topic, ref)
            if leave is not None and self.role != policy.SHARE:
                # This socket stops listening to the topic now, so it would miss the
                # broadcast of its own leave: a rejoin would show this join forever.
                await self.push_untied(PRESENCE_DIFF, leave)
            if not by_server_stop:
                await self._expect_departure()

    async def _expect_departure(self) -> None:
        """The user's last connection here is gone: keep a quick return unannounced, and
        announce the leave if they stay away (coaching.realtime.departures)."""
        if self.role not in (policy.STUDENT, policy.COACH):
            return
        presence = get_presence()
        key = str(self.user.pk)
        if await presence.present(self.topic, key):
            return  # another tab or device is still in
        quiet = max(ENTRY_NOTICE_QUIET_SECONDS, 2 * settings.LEAVE_NOTICE_GRACE)
        await presence.mark(entry_mark(self.topic, key), quiet)
        departures.schedule(Departure(self.topic, self.session_id, self.user, self.role))
