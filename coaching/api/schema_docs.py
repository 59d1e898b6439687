"""The OpenAPI description (`SPECTACULAR_SETTINGS["DESCRIPTION"]`): the REST rules and the socket.

Plain text with no imports, so that settings can import it.
"""

DESCRIPTION = """
Live coaching sessions of INSwing: a student and a coach meet in a session, chat,
and see the AI analysis of the student's swings (pushed in by the Node API) as it
arrives. This API is REST for reads and for the Node API's hooks, plus a WebSocket
speaking the Phoenix Channels V2 protocol for everything live.

## Authentication
* `POST /api/auth/token/` with `{"username", "password"}` gives a JWT pair
  `{"access", "refresh"}`; send `Authorization: Bearer <access>`. Renew with
  `POST /api/auth/token/refresh/` `{"refresh"}`.
* Our own pages use Django's session cookie (with the `X-CSRFToken` header on writes)
  and fetch a short-lived socket token from `POST /api/auth/socket-token/`.
* Tokens stop working once the user's access ends (logout from the pages, deactivation,
  a role or password change). The token endpoints are rate limited (429).

## Roles
* **student**: creates own sessions; reads own sessions, their chat, feedback and checkpoints.
* **coach**: lists waiting sessions and own ones; previews a waiting one read-only before
  claiming it; claims a waiting one; reads the sessions they coach; saves checkpoints and
  annotations there.
* **service** (the Node API): creates sessions for a `student_id`; attaches swings; posts
  progress, feedback and notices to any session.
* **admin** (Django staff): lists and reads every session; posts notices; ends sessions.

## Errors
Every error is `{"error": {"code": "…", "message": "…", "fields": {…}?}}`.
`code` is stable and machine-readable, `message` is for humans, and `fields` (only on
`invalid_input`) maps each offending field to its messages.

| status | codes | when |
|---|---|---|
| 400 | `invalid_input`, `malformed_request` | the body or a query parameter is invalid |
| 401 | `not_authenticated`, `authentication_failed` | no credentials, or bad/expired ones |
| 403 | `forbidden` | a session you can see, but your role may not do this |
| 404 | `not_found` | no such session, or one you may not see (the two are indistinguishable) |
| 409 | `already_claimed`, `invalid_transition`, `session_ended` | the session's state refuses it |
| 429 | `rate_limited` | too many token requests; retry after `Retry-After` seconds |
| 503 | `unavailable` | the database is briefly down: retry after the `Retry-After` seconds |

Text fields are JSON strings (a number is not taken for one), NFC-normalized and trimmed;
NUL and lone surrogates are refused (`invalid_input` naming the field), as on the socket.
The service account must give `student_id` when it creates a session (else `403`).

## Node API integration
1. Create a session for a student: `POST /api/sessions/` `{"student_id": 42, "title": "…"}` → `201`
   with `session_id`. Coaches waiting in the lobby see it at once. A student waits in one
   session at most: if they already do, that session comes back with `200`.
2. Attach the swing videos the room plays: `POST /api/sessions/{session_id}/swings/`
   `{"swing_id", "video_url", "poster_url"?, "fps"?, "duration_ms"?, "club"?,
   "camera_angle"?: "face_on|down_the_line", "label"?, "recorded_at"? (epoch ms),
   "key_frames"?: {"top": 1300, …}}` → `201`; everyone gets `swing:added`. Or give them as
   `"swings": [{…}]` in the create body.
3. While a swing is analysed: `POST /api/sessions/{session_id}/progress/`
   `{"swing_id", "percent": 0-100, "step"}` → `202`; everyone in the session gets `swing:progress`.
4. When the result is ready: `POST /api/sessions/{session_id}/feedback/`
   `{"swing_id", "summary", "metrics": {…}, "recommendations": ["…"], "level"}` → `201`;
   everyone gets `ai:feedback`.
5. Optional announcements: `POST /api/sessions/{session_id}/notices/`
   `{"text", "level": "info|success|warning|error", "notice_id"?}` → `201`;
   everyone gets `system:notice`.
6. Swings filmed in the room: with `ANALYSIS_WEBHOOK_URL` set, this server POSTs each one
   to the Node API, signed (`X-INSwing-Signature`, HMAC-SHA256 of `<timestamp>.<body>`;
   docs/api.md, "The analysis webhook"), with a signed `video_url` to fetch; answer 2xx,
   then report through steps 3 and 4 with its `swing_id`. The room uploads them resumably
   through `…/uploads/` (the session's student and coach).

Retries are safe. Swings and feedback are stored once per `swing_id`: a repeated POST answers `200`
with the stored swing or card and broadcasts nothing. A notice with a `notice_id` seen before
answers `200` with the first notice. Progress is not stored; a repeated tick is harmless.
Whatever REST posts reaches every socket in the session, on every server process.

## Lists
Lists are paginated: `?page=N&page_size=M` (integers ≥ 1; `page_size` over 100 counts as
100; anything else is a `400`), answering
`{"count", "next", "previous", "results": […]}`, in seq order for a session's chat,
feedback and checkpoints (`?after_seq=N` on chat gives only what came after N).

## The socket
`wss://<host>/socket/websocket?vsn=2.0.0&token=<access token>`, the Phoenix Channels V2
wire protocol (with `vsn=1.0.0`, or no `vsn`, V1: JSON object frames `{"topic", "event",
"payload", "ref", "join_ref"}`), so the official `phoenix` JS client works as it is
(`new Socket("/socket", {params: {token}})`, or its `authToken` option). A missing,
invalid or expired token, or a browser `Origin` that is not allowed, is refused before
the upgrade with HTTP 403. Clients that send no `Origin` (apps, services) are allowed
and authenticate by token alone.

Frames are JSON arrays `[join_ref, ref, topic, event, payload]`. Replies are
`phx_reply` with `{"status": "ok"|"error", "response": {…}}`; an error response is
`{"reason": "<code>", "message": "…"}` with the codes above, or one of
`unknown_event`, `bad_frame`, `not_joined`,
`too_many_requests`, `join_failed`, `internal_error`, `unmatched topic`, `overloaded`,
`unavailable` (the database is down; the response has `retry_after_ms`), and
`rate_limited` with `retry_after_ms` (per-user limits on pushes: chat 5/s, bursts of 20).
A channel that cannot keep up gets `phx_error` `{"reason": "overloaded"}`; one that
missed too much (`too_far_behind`) or whose broadcasts were lost to a Redis outage
(`resync`, the lobby) gets it too: the client rejoins with its `last_seq` and loses
nothing. `{"reason": "diverged"}`: the database lost events the client was sent (see
Recovery); its rejoin gets a fresh snapshot. The server closes the socket when the
token expires (4002) or the user's access ends (4001): reconnect with a fresh token.
Heartbeat: topic `phoenix`, event `heartbeat`.

### Topic `session:{session_id}`
Joinable by the session's student and coach, and by admins as read-only observers.

* `phx_join` (client → server), params `{"last_seq"?: N, "last_eid"?: "<eid>"}`. Ok reply:
  `{"session": <state>, "messages": [<chat:added>…] (latest 50),
  "feedback": [<ai:feedback>…] (latest 20), "checkpoints": [<checkpoint:added>…],
  "events": [{"event", "payload"}…] (the latest 100 log entries), "has_more_before",
  "recap" (once ended, else null), "server_time", "last_seq", "last_eid" (of the event at
  last_seq, null before the first),
  "swings": [<swing>…], "annotations": [<annotation:added>…] (latest 200),
  "review": <review state>,
  "you": {"id", "role", "name", "session_role": "student"|"coach"|"observer"|"preview"},
  "recovery"?}`.
  Error reply: `{"reason": "not_found"|"forbidden"|"invalid_input"}`.
* `chat:new` (client → server): `{"message", "client_msg_id"?}`; the sender comes from the
  token. Ok reply: `{"message": <chat:added>}`; a resent `client_msg_id` is stored once.
* `chat:added` (to all): `{"id", "seq", "eid", "session_id", "sender": {"id", "role", "name"},
  "message", "client_msg_id", "meta": {"ts"}}`.
* `session:control` (coach → server): `{"status"?: "active"|"paused"|"ended",
  "current_step"?: "upload"|"analysis"|"feedback"}`. Ok reply: the new state. Errors:
  `forbidden`, `invalid_transition`, `session_ended`, `invalid_input`. Admins may only end.
* `session:state` (to all): `{"session_id", "status", "current_step",
  "coach": {"id", "name"}|null, "student": {"id", "name"}, "updated_at", "created_at",
  "started_at"|null, "ended_at"|null, "step_source": "auto"|"coach", "seq", "eid"}`.
* `swing:progress` (to all): `{"session_id", "swing_id", "percent", "step"}`, no seq.
* `ai:feedback` (to all): `{"id", "seq", "eid", "session_id", "swing_id", "summary",
  "metrics", "recommendations", "level", "key_frames", "created_at"}`.
* `system:notice` (to all): `{"type": "system", "text" (Korean), "level", "code", "params",
  "seq", "eid"}`; `code` is `participant_joined` / `participant_left` (`params` `{name, role}`) or
  `service` (posted over REST).
* `analysis:milestone` (to all): `{"seq", "eid", "session_id", "swing_id", "step", "percent"}`,
  logged when a swing's progress reaches a new step or 100 %.
* `checkpoint:added` (to all): `{"id", "seq", "eid", "session_id", "feedback_id", "swing_id",
  "coach": {"id", "name"}, "note", "created_at"}`.
* `swing:added` (to all): `{"seq", "eid", "session_id", "swing": {"swing_id", "video_url",
  "poster_url", "fps", "duration_ms", "club", "camera_angle", "label", "recorded_at",
  "key_frames"}}`.
* `annotation:save` (coach → server): `{"swing_id", "time_ms", "shapes": [<shape>…],
  "note"?}`; a shape is `{"kind": "line"|"arrow"|"angle"|"circle", "points": [[x, y]…],
  "color"?: "#rrggbb"}` with coordinates in 0..1 of the frame (2 points, 3 for an angle).
  Ok reply: the `annotation:added` payload. Errors: `forbidden`, `session_ended`,
  `invalid_input`.
* `annotation:added` (to all): `{"id", "seq", "eid", "session_id", "swing_id", "time_ms", "shapes",
  "note", "coach": {"id", "name"}, "created_at"}`.
* `review:update` (the review's leader → server): `{"swing_id"?, "playing"?,
  "position_ms"?, "rate"?: 0.25|0.5|1|2, "compare"?: {"swing_id", "offset_ms"}|null}`. Ok
  reply and `review:state` (to all): `{"swing_id", "playing", "position_ms", "rate",
  "compare", "leader": {"id", "name"}|null, "lead_request", "alone", "server_ts",
  "version"}`; live position = `position_ms + (playing ? (now_server - server_ts) * rate :
  0)`. No seq; the newest `version` wins. Starting or ending a compare is logged
  (`review:compare_started`, `review:compare_ended`, to all, with `seq`).
* `review:lead` (coach, or the leading student handing back → server): `{"user_id"}` →
  `review:state` to all, and `review:lead_changed` (logged, with `seq`) when the lead moved.
* `review:ask_lead` (the student → server): `{"cancel"?}`; `review:answer_lead` (the coach):
  `{"accept"}`; `review:alone` (a follower): `{"alone"}`; `review:bring_back` (the leader):
  `{"user_id"}`. Each answers with, and broadcasts, the new `review:state` (docs/protocol.md).
* `review:stroke` (coach or leader → server): `{"stroke_id", "shape", "done"}` →
  `review:stroke` `{…, "by": {"id", "name"}}` to the others; above 60 a second,
  `rate_limited` with `retry_after_ms`. `review:clear` `{}` → `review:clear` `{"by"}` to all.
* Voice calls, the session's student and coach only (docs/protocol.md, "Calls"): `call:ring`
  `{}`, `call:accept` / `call:decline` / `call:hangup` `{"call_id"}`, `call:status`
  `{"call_id", "connection"?, "muted"?}`, each answered with, and broadcast as, `call:state`
  `{"call_id", "state", "caller", "callee", "muted", "ended_reason", …}` (not stored; also in
  the join reply as `call`). `call:signal` `{"call_id", "kind": "offer"|"answer"|"candidate"|
  "restart", "data", "to"?}` → `call:signal` `{…, "from"}` to the other participant's
  connections only, never stored; at most 16 KiB of `data` and 10 a second
  (`rate_limited`). ICE servers and TURN credentials: `GET /api/rtc/credentials/`.
* `presence:state` (to the joiner, after every join):
  `{"<user_id>": {"metas": [{"phx_ref", "name", "role", "online_at", "connection":
  "ok"|"lost", "lost_at"}]}}`; a connection that declared `heartbeat_ms` in the socket URL
  and sent nothing for two of them shows `"lost"` (docs/protocol.md).
* `presence:diff` (to all): `{"joins": {…}, "leaves": {…}}`, each shaped like the state.

Status moves waiting → active (a coach claims) → paused ⇄ active, and any of them → ended,
which is final. Times are epoch milliseconds.

### Topic `lobby:coaches`
Coaches only (others get `forbidden`). Join reply: `{"sessions": [<session>…]}`, the
waiting list, oldest first. Then, with the same session object as `GET /api/sessions/`:

| event | when |
|---|---|
| `session:waiting` | a session was created and waits for a coach |
| `session:updated` | a waiting entry changed (a card: `swing_summary`; a new topic: `title`) |
| `session:claimed` | a coach claimed one (drop it from the waiting list) |
| `session:ended` | a session ended |

### Recovery
Every persisted event of a session (chat, state change, feedback, notice, checkpoint,
swing, annotation, milestone) carries a per-session increasing `seq` and an `eid` (12
random characters naming the event); progress ticks, presence and review events carry
neither. A client remembers the highest `seq` it has seen and that event's `eid`, and
rejoins with `{"last_seq": N, "last_eid": "<eid>"}`: the reply has
`"recovery": {"mode": "replay", "after_seq": N, "count": K}` and the K missed events follow,
in order, before live ones. When it missed too many (over 500) the reply says
`"recovery": {"mode": "snapshot", "reason": "too_far_behind"}` and the client renders the
snapshot in the reply instead. When the server's event at N is not the client's (another
`eid`, or none: the database lost events the client saw and gave their seqs again), the
reply says `"recovery": {"mode": "snapshot", "reason": "diverged"}`: the client drops what
it holds of the session's events and renders the snapshot alone.
`GET /api/sessions/{id}/messages/?after_seq=N` gives missed chat over REST.
""".strip()
