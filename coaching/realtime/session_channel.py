"""`session:{session_id}`: the lesson's chat, state, analysis events and presence."""

import time
from typing import Any

from coaching import events, policy, selectors
from coaching.errors import ServiceError, invalid
from coaching.realtime.batching import Batcher
from coaching.realtime.channel import Channel
from coaching.realtime.db import in_db_thread
from coaching.realtime.presence import PRESENCE_DIFF, PRESENCE_STATE, get_presence, new_ref
from coaching.services import review
from coaching.services.annotations import annotation_save
from coaching.services.chat import ChatPost, chat_messages_post
from coaching.services.lookup import get_session
from coaching.services.notices import entry_announce
from coaching.services.sessions import session_control

# Chat lines from every socket of this process, stored a batch per transaction.
chat_writer: Batcher[ChatPost, dict | ServiceError] = Batcher(chat_messages_post)

# A user who drops and comes back within this many seconds is not announced again.
ENTRY_NOTICE_QUIET_SECONDS = 300


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


def _optional_str(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is not None and not isinstance(value, str):
        raise invalid(field, f"{field} must be a string.")
    return value


class SessionChannel(Channel):
    role: str
    last_seq: int = 0
    presence_ref: str | None = None
    _replay: list[tuple[str, dict]]

    @property
    def session_id(self) -> str:
        return self.topic.split(":", 1)[1]

    async def join(self, params: dict[str, Any]) -> dict[str, Any]:
        last_seq = _last_seq_param(params)
        reply, self.role, self._replay = await in_db_thread(self._load)(last_seq)
        self.last_seq = reply["last_seq"]
        if self._replay:
            self.last_seq = max(self.last_seq, self._replay[-1][1]["seq"])
        reply["review"] = await review.current_review(
            self.session_id, reply["session"]["coach"], reply["swings"]
        )
        return reply

    def _load(self, last_seq: int | None) -> tuple[dict, str, list[tuple[str, dict]]]:
        session = get_session(self.session_id)
        role = policy.check_join(self.user, session)
        reply = selectors.session_snapshot(session)
        reply["you"] = {**events.sender(self.user), "session_role": role}
        replay: list[tuple[str, dict]] = []
        if last_seq is not None:
            missed = (
                selectors.events_after(session, last_seq) if last_seq <= session.last_seq else None
            )
            if missed is None:
                reply["recovery"] = {"mode": "snapshot", "reason": "too_far_behind"}
            else:
                replay = missed
                reply["recovery"] = {"mode": "replay", "after_seq": last_seq, "count": len(missed)}
        return reply, role, replay

    async def after_join(self) -> None:
        for event, payload in self._replay:
            await self.push(event, payload)
        self._replay = []
        presence = get_presence()
        key = str(self.user.pk)
        self.presence_ref = new_ref()
        meta = {
            "phx_ref": self.presence_ref,
            "name": self.user.display_name,
            "role": self.user.public_role,
            "online_at": int(time.time() * 1000),
        }
        first = await presence.track(self.topic, key, meta)
        await self.push(PRESENCE_STATE, await presence.list(self.topic))
        if (
            first
            and self.role in (policy.STUDENT, policy.COACH)
            and await presence.mark_once(f"entered:{self.topic}:{key}", ENTRY_NOTICE_QUIET_SECONDS)
        ):
            await in_db_thread(entry_announce)(
                session_id=self.session_id, user=self.user, role=self.role
            )

    async def handle_in(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        if event == "chat:new":
            post = ChatPost(
                self.session_id, self.user, payload.get("message"), payload.get("client_msg_id")
            )
            result = await chat_writer.submit(post)
            if isinstance(result, ServiceError):
                raise result
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
        if event in review.EVENTS:
            return await review.handle(event, self.session_id, self.user, self.role, payload)
        raise ServiceError("unknown_event", f"Unknown event {event!r}.")

    async def handle_out(self, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        seq = payload.get("seq")
        if review.is_own_stroke(event, payload, self.user):
            return None
        if not isinstance(seq, int):
            return payload  # ephemeral: progress ticks, presence, review
        if seq <= self.last_seq:
            return None  # already sent: in the join reply, the replay or a gap fill
        if seq > self.last_seq + 1:
            # Events before this one were lost on the way (the channel layer delivers at
            # most once) or overtaken: send them from the log first, in order.
            missed = await in_db_thread(self._events_after)(self.last_seq) or []
            for missed_event, missed_payload in missed:
                if missed_payload["seq"] < seq:
                    await self.push(missed_event, missed_payload)
        self.last_seq = seq
        return payload

    def _events_after(self, seq: int) -> list[tuple[str, dict]] | None:
        return selectors.events_after(get_session(self.session_id), seq)

    async def terminate(self) -> None:
        if self.presence_ref is not None:
            ref, self.presence_ref = self.presence_ref, None
            leave = await get_presence().untrack(self.topic, ref)
            if leave is not None:
                # This socket stops listening to the topic now, so it would miss the
                # broadcast of its own leave: a rejoin would show this join forever.
                await self.push_untied(PRESENCE_DIFF, leave)
