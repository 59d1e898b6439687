// Drives the server with the real `phoenix` npm client (node_modules/phoenix) over `ws`.
//
// Usage (cwd = repo root): node tests/realtime/js/conformance.mjs SCENARIO
// with the JSON config in the PHX_CONFORMANCE environment variable:
//   {endpoint, topic, unknown_topic, tokens: {student, coach, outsider, expired}, users: {...}}
//
// Output: one JSON object per line on stdout.
//   {"name": "...", ...}      an observation; tests/realtime/test_phoenix_js_client.py asserts on it
//   {"step": "...", ...}      the test must act (e.g. restart the server), then answer one line on stdin
//   {"done": true}            the scenario finished (the last line)
//   {"fatal": "..."}          the script itself failed
// The script reports what the phoenix client saw (callbacks, channel.on, Presence);
// the assertions live on the pytest side.

import readline from "node:readline"

import {Presence, Socket} from "phoenix"
import WebSocket from "ws"

const cfg = JSON.parse(process.env.PHX_CONFORMANCE || "{}")
const scenarioName = process.argv[2]
const T0 = Date.now()
const now = () => Date.now() - T0
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// phoenix.js's own default reconnect backoff (socket.js), recorded when it is used.
const DEFAULT_RECONNECT = [10, 50, 100, 150, 200, 250, 500, 1000, 2000]
const defaultReconnectAfterMs = (tries) => DEFAULT_RECONNECT[tries - 1] || 5000
const PRESENCE_EVENTS = {events: {state: "presence:state", diff: "presence:diff"}}
const FAST = {reconnectAfterMs: () => 100, rejoinAfterMs: () => 100}

function emit(name, data = {}) {
  process.stdout.write(JSON.stringify({name, t: now(), ...data}) + "\n")
}

// -- stdin: the test's answers to {"step": ...} lines --------------------------------------
const stdinLines = []
const stdinWaiters = []
const rl = readline.createInterface({input: process.stdin})
rl.on("line", (line) => {
  if (stdinWaiters.length) { stdinWaiters.shift()(line) } else { stdinLines.push(line) }
})

async function step(name, data = {}) {
  process.stdout.write(JSON.stringify({step: name, t: now(), ...data}) + "\n")
  const line = stdinLines.length ? stdinLines.shift() : await new Promise((r) => stdinWaiters.push(r))
  return line.trim() ? JSON.parse(line) : {}
}

async function waitFor(predicate, ms, every = 20) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (predicate()) { return true }
    await sleep(every)
  }
  return !!predicate()
}

// -- clients ------------------------------------------------------------------------------
const sockets = []

function redact(url) { return url.replace(/token=[^&]*/, "token=<redacted>") }

// A phoenix Socket over a `ws` subclass that records every connection attempt, open and
// frame sent and received; the socket's own callbacks record opens, errors and closes.
function client(label, {token, authToken, params, opts = {}} = {}) {
  const stats = {
    label, attempts: [], wsOpens: [], opens: [], errors: [], closes: [], sent: [], received: [],
    backoff: [], paramsCalls: 0, phoenixMessages: [],
  }
  class TrackedWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols)
      stats.attempts.push({
        t: now(),
        url: redact(url),
        token_in_url: /[?&]token=/.test(url),
        protocols: (protocols || []).map((p) => (p.startsWith("base64url.bearer.phx.") ? "base64url.bearer.phx.<token>" : p)),
      })
      this.on("open", () => stats.wsOpens.push({t: now(), protocol: this.protocol}))
      // Frames as they came off the wire: registered before phoenix.js's onmessage, parsed
      // separately, so what phoenix.js later does to its payloads (Presence.syncState
      // rewrites a state's metas in place) does not change this record.
      this.on("message", (data, isBinary) => {
        if (isBinary) { return }
        try {
          const [join_ref, ref, topic, event, payload] = JSON.parse(data.toString())
          stats.received.push({t: now(), join_ref, ref, topic, event, payload})
        } catch { /* not JSON */ }
      })
    }

    send(data, ...rest) {
      try { stats.sent.push({t: now(), frame: JSON.parse(data)}) } catch { /* not JSON */ }
      return super.send(data, ...rest)
    }
  }
  const socketOpts = {transport: TrackedWebSocket, ...opts}
  if (params) {
    socketOpts.params = params
  } else if (token !== undefined) {
    socketOpts.params = () => { stats.paramsCalls++; return {token} }
  }
  if (authToken !== undefined) { socketOpts.authToken = authToken }
  if (socketOpts.reconnectAfterMs) {
    const inner = socketOpts.reconnectAfterMs
    socketOpts.reconnectAfterMs = (tries) => {
      const ms = inner(tries)
      stats.backoff.push({t: now(), tries, ms})
      return ms
    }
  }
  const socket = new Socket(cfg.endpoint, socketOpts)
  socket.onOpen(() => stats.opens.push({t: now()}))
  socket.onError((error) => stats.errors.push({t: now(), message: (error && error.message) || String(error)}))
  socket.onClose((event) => stats.closes.push({t: now(), code: event && event.code}))
  socket.onMessage((msg) => { if (msg.topic === "phoenix") { stats.phoenixMessages.push({t: now(), ...msg}) } })
  sockets.push(socket)
  return {label, socket, stats}
}

function connect(c) { c.socket.connect(); return waitFor(() => c.stats.opens.length > 0, 5000) }

function summary(c) {
  const s = c.stats
  return {
    label: s.label,
    attempts: s.attempts,
    ws_opens: s.wsOpens,
    opens: s.opens.length,
    errors: s.errors.map((e) => e.message),
    closes: s.closes,
    backoff: s.backoff,
    params_calls: s.paramsCalls,
    connected: c.socket.isConnected(),
  }
}

const EVENTS = ["chat:added", "system:notice", "session:state"]

// A channel whose every join outcome, event, close and error is recorded.
function channel(c, topic, params, {presence = false} = {}) {
  const ch = c.socket.channel(topic, params)
  const rec = {topic, oks: [], errors: [], timeouts: 0, closes: [], chanErrors: [], events: [], syncs: 0, syncLog: []}
  for (const event of EVENTS) {
    ch.on(event, (payload, _ref, joinRef) => rec.events.push({t: now(), event, payload, joinRef}))
  }
  ch.onClose((payload) => rec.closes.push({t: now(), payload}))
  ch.onError((reason) => rec.chanErrors.push({t: now(), reason}))
  let pres = null
  if (presence) {
    pres = new Presence(ch, PRESENCE_EVENTS)
    pres.onSync(() => {
      rec.syncs++
      rec.syncLog.push({t: now(), joinRef: ch.joinRef(), refs: Object.fromEntries(Object.entries(view(pres)).map(([k, v]) => [k, v.map((m) => m.phx_ref)]))})
    })
  }
  return {
    ch, rec, pres, c,
    join() {
      const push = ch.join()
      push
        .receive("ok", (response) => rec.oks.push({t: now(), joinRef: ch.joinRef(), response}))
        .receive("error", (response) => rec.errors.push({t: now(), joinRef: ch.joinRef(), response}))
        .receive("timeout", () => { rec.timeouts++ })
      return push
    },
    joined(n = 1, ms = 5000) { return waitFor(() => rec.oks.length >= n, ms) },
    chats(text) { return rec.events.filter((e) => e.event === "chat:added" && (text === undefined || e.payload.message === text)) },
    state() { return ch.state },
  }
}

// Presence as the page would render it: {user_id: [{name, role, phx_ref}]}.
function view(pres) {
  const out = {}
  pres.list((key, {metas}) => {
    out[key] = metas.map((m) => ({name: m.name, role: m.role, phx_ref: m.phx_ref, online_at: m.online_at}))
  })
  return out
}

function viewIs(pres, expected) {
  const v = view(pres)
  const keys = Object.keys(v).sort()
  const want = Object.keys(expected).sort()
  return JSON.stringify(keys) === JSON.stringify(want) && want.every((k) => v[k].length === expected[k])
}

function push(chan, event, payload, timeout = 5000) {
  return new Promise((resolve) => {
    chan.ch.push(event, payload, timeout)
      .receive("ok", (response) => resolve({status: "ok", response}))
      .receive("error", (response) => resolve({status: "error", response}))
      .receive("timeout", () => resolve({status: "timeout"}))
  })
}

function leave(chan, timeout = 5000) {
  return new Promise((resolve) => {
    chan.ch.leave(timeout)
      .receive("ok", (response) => resolve({status: "ok", response}))
      .receive("error", (response) => resolve({status: "error", response}))
      .receive("timeout", () => resolve({status: "timeout"}))
  })
}

function joinFramesSent(c, topic) {
  return c.stats.sent.filter((s) => s.frame[2] === topic && s.frame[3] === "phx_join").map((s) => ({t: s.t, join_ref: s.frame[0], payload: s.frame[4]}))
}

// The presence frames a socket got for a topic, as {event, join_ref, joins/leaves or state: {key: [phx_ref]}}.
function presenceFrames(c, topic, since = 0) {
  const refs = (state) => Object.fromEntries(Object.entries(state || {}).map(([k, v]) => [k, v.metas.map((m) => m.phx_ref)]))
  return received(c, topic, since)
    .filter((m) => m.event.startsWith("presence:"))
    .map((m) => (m.event === "presence:state"
      ? {t: m.t, event: m.event, join_ref: m.join_ref, state: refs(m.payload)}
      : {t: m.t, event: m.event, join_ref: m.join_ref, joins: refs(m.payload.joins), leaves: refs(m.payload.leaves)}))
}

function received(c, topic, since = 0) {
  return c.stats.received.filter((m) => m.topic === topic && m.t >= since).map((m) => ({t: m.t, join_ref: m.join_ref, ref: m.ref, event: m.event, payload: m.payload}))
}

// -- scenarios ----------------------------------------------------------------------------
const scenarios = {}

// 1. `params: {token}`: the token travels as a connect param.
scenarios.connect_params = async () => {
  const c = client("student", {token: cfg.tokens.student})
  const opened = await connect(c)
  const chan = channel(c, cfg.topic)
  chan.join()
  await chan.joined()
  emit("connected", {opened, socket: summary(c), join: chan.rec.oks[0] || chan.rec.errors[0] || null})
}

// 1. `authToken`: the token travels in the Sec-WebSocket-Protocol header, no token param.
scenarios.connect_authtoken = async () => {
  const c = client("student", {authToken: cfg.tokens.student})
  const opened = await connect(c)
  const chan = channel(c, cfg.topic)
  chan.join()
  await chan.joined()
  emit("connected", {opened, socket: summary(c), join: chan.rec.oks[0] || chan.rec.errors[0] || null})
}

// 1. Refused upgrades: no onOpen ever, onError fires (HTTP 403), retries follow the backoff.
scenarios.refused = async () => {
  const window = cfg.window_ms || 3000
  const opts = {reconnectAfterMs: defaultReconnectAfterMs}
  const clients = [
    client("bad_token", {token: "not-a-jwt", opts}),
    client("missing_token", {opts}),
    client("expired_token", {token: cfg.tokens.expired, opts}),
    client("bad_authtoken", {authToken: "not-a-jwt", opts}),
    client("unsupported_vsn", {token: cfg.tokens.student, opts: {...opts, vsn: "3.0.0"}}),
  ]
  clients.forEach((c) => c.socket.connect())
  await sleep(window)
  clients.forEach((c) => c.socket.disconnect())
  for (const c of clients) { emit("refused", {window_ms: window, socket: summary(c)}) }
}

// 2. A short heartbeat interval: every heartbeat answered, the socket never closes.
scenarios.heartbeat = async () => {
  const interval = cfg.heartbeat_ms || 200
  const logs = []
  const logger = (kind, msg) => { if (kind === "transport") { logs.push(String(msg)) } }
  const c = client("student", {token: cfg.tokens.student, opts: {heartbeatIntervalMs: interval, logger}})
  await connect(c)
  const chan = channel(c, cfg.topic)
  chan.join()
  await chan.joined()
  await sleep(cfg.duration_ms || 3000)
  const sent = c.stats.sent.filter((s) => s.frame[2] === "phoenix" && s.frame[3] === "heartbeat")
  const sentRefs = new Set(sent.map((s) => s.frame[1]))
  // The replies as phoenix.js's socket.onMessage reported them.
  const replies = c.stats.phoenixMessages.filter((m) => m.event === "phx_reply" && sentRefs.has(m.ref))
  const rtts = replies.map((m) => m.t - sent.find((s) => s.frame[1] === m.ref).t)
  const after = await push(chan, "chat:new", {message: "still here"})
  emit("heartbeat", {
    interval_ms: interval,
    socket: summary(c),
    heartbeats_sent: sent.length,
    replies: replies.map((m) => ({ref: m.ref, join_ref: m.join_ref, status: m.payload.status, response: m.payload.response})),
    max_rtt_ms: Math.max(0, ...rtts),
    heartbeat_timeouts: logs.filter((l) => l.includes("heartbeat timeout")).length,
    channel_state: chan.state(),
    push_after: after,
  })
}

// 3. Join replies: the snapshot on ok; forbidden / not_found / unmatched topic on error.
scenarios.join_ok = async () => {
  const s = client("student", {token: cfg.tokens.student})
  await connect(s)
  const ok = channel(s, cfg.topic)
  ok.join()
  await ok.joined()
  emit("join_ok", {join: ok.rec.oks[0] || null, errors: ok.rec.errors})
}

scenarios.join_errors = async () => {
  const s = client("student", {token: cfg.tokens.student})
  const o = client("outsider", {token: cfg.tokens.outsider})
  await Promise.all([connect(s), connect(o)])
  const ok = channel(s, cfg.topic)
  ok.join()
  await ok.joined()

  const refusals = [
    ["outsider", channel(o, cfg.topic)],
    ["unknown_session", channel(s, cfg.unknown_topic)],
    ["unmatched_topic", channel(s, "nope:1")],
  ]
  const leaves = {}
  for (const [label, chan] of refusals) {
    leaves[label] = new Promise((resolve) => {
      chan.join().receive("error", () => { leave(chan).then(resolve) })
    })
  }
  await Promise.all(refusals.map(([, chan]) => waitFor(() => chan.rec.errors.length > 0 || chan.rec.oks.length > 0, 5000)))
  const leaveResults = {}
  for (const [label] of refusals) { leaveResults[label] = await Promise.race([leaves[label], sleep(3000).then(() => null)]) }
  // phoenix.js would retry a failed join after 1 s; leave() must have stopped that.
  await sleep(1500)
  const serverLeaveReply = (chan) => {
    const frame = chan.c.stats.sent.find((x) => x.frame[2] === chan.rec.topic && x.frame[3] === "phx_leave")
    const reply = frame && chan.c.stats.received.find((m) => m.topic === chan.rec.topic && m.event === "phx_reply" && m.ref === frame.frame[1])
    return reply ? reply.payload : null
  }
  for (const [label, chan] of refusals) {
    emit("join_error", {
      server_leave_reply: serverLeaveReply(chan),
      label,
      oks: chan.rec.oks,
      errors: chan.rec.errors,
      leave: leaveResults[label],
      closes: chan.rec.closes.length,
      state: chan.state(),
      join_frames: joinFramesSent(chan.c, chan.rec.topic),
    })
  }
  const still = await push(ok, "chat:new", {message: "after the refusals"})
  emit("sockets_after_refusals", {student: summary(s), outsider: summary(o), student_push: still, student_state: ok.state()})
}

// 4. Push replies and broadcasts.
scenarios.push = async () => {
  const s = client("student", {token: cfg.tokens.student})
  const k = client("coach", {token: cfg.tokens.coach})
  await Promise.all([connect(s), connect(k)])
  const sc = channel(s, cfg.topic)
  const kc = channel(k, cfg.topic)
  sc.join(); kc.join()
  await Promise.all([sc.joined(), kc.joined()])

  const fromStudent = await push(sc, "chat:new", {message: "hello from the student", client_msg_id: "cmid-1"})
  const fromCoach = await push(kc, "chat:new", {message: "hello from the coach"})
  const resent = await push(sc, "chat:new", {message: "hello from the student", client_msg_id: "cmid-1"})
  const empty = await push(sc, "chat:new", {message: ""})
  const unknown = await push(sc, "chat:shout", {message: "hi"})
  const studentControl = await push(sc, "session:control", {status: "paused"})
  const coachControl = await push(kc, "session:control", {status: "paused"})
  await waitFor(() => [sc, kc].every((c) => c.chats("hello from the coach").length && c.chats("hello from the student").length && c.rec.events.some((e) => e.event === "session:state")), 3000)
  await sleep(300) // would a duplicate chat:added for the resent client_msg_id arrive?
  emit("pushes", {fromStudent, fromCoach, resent, empty, unknown, studentControl, coachControl})
  for (const c of [sc, kc]) {
    emit("broadcasts", {
      label: c.c.label,
      chats: c.chats().map((e) => ({id: e.payload.id, seq: e.payload.seq, message: e.payload.message, sender: e.payload.sender, joinRef: e.joinRef})),
      states: c.rec.events.filter((e) => e.event === "session:state").map((e) => e.payload),
      raw_chat_frames: received(c.c, cfg.topic).filter((m) => m.event === "chat:added").map((m) => ({join_ref: m.join_ref, ref: m.ref})),
    })
  }
}

// 5. Two joins of one topic on one socket: phoenix.js leaves the first (leaveOpenTopic).
scenarios.duplicate = async () => {
  const s = client("student", {token: cfg.tokens.student})
  const k = client("coach", {token: cfg.tokens.coach})
  await Promise.all([connect(s), connect(k)])
  const kc = channel(k, cfg.topic, {}, {presence: true})
  kc.join()
  await kc.joined()

  // A page that opens the topic again (e.g. a component mounted twice) right after the
  // first join: when its reply came (cfg.reopen "on_join_reply") or when its presence
  // list first showed up ("on_presence_state"). The second join() makes phoenix.js leave
  // the first (socket.leaveOpenTopic).
  const first = channel(s, cfg.topic, {}, {presence: true})
  const second = channel(s, cfg.topic, {}, {presence: true})
  let firstRef = null
  const reopen = () => {
    if (firstRef !== null) { return }
    firstRef = first.ch.joinRef()
    second.join()
  }
  if (cfg.reopen === "on_presence_state") {
    first.pres.onSync(() => { first.rec.syncs++; reopen() })
    first.join()
  } else {
    first.join().receive("ok", reopen)
  }
  await second.joined()
  await waitFor(() => first.rec.closes.length > 0, 3000)
  const one = {[cfg.users.student]: 1, [cfg.users.coach]: 1}
  const settled = await waitFor(() => viewIs(second.pres, one) && viewIs(kc.pres, one), 2000)
  await sleep(300)
  const chat1 = await push(kc, "chat:new", {message: "after the duplicate join"})
  await waitFor(() => second.chats("after the duplicate join").length > 0, 3000)
  await sleep(300)
  // The first join's own presence meta, as the server announced it.
  const firstState = received(s, cfg.topic).find((m) => m.event === "presence:state" && m.join_ref === firstRef)
  const firstMetaRefs = firstState ? (firstState.payload[cfg.users.student] || {metas: []}).metas.map((m) => m.phx_ref) : []
  emit("duplicate_join", {
    reopen: cfg.reopen,
    first_join_ref: firstRef,
    second_join_ref: second.ch.joinRef(),
    first_meta_refs: firstMetaRefs,
    second_join_sent_at: (joinFramesSent(s, cfg.topic)[1] || {}).t,
    second_join_ok_at: second.rec.oks[0] ? second.rec.oks[0].t : null,
    presence_frames: presenceFrames(s, cfg.topic),
    first: {oks: first.rec.oks.length, closes: first.rec.closes, state: first.state(), chats: first.chats().length},
    second: {oks: second.rec.oks.length, closes: second.rec.closes.length, state: second.state(), chats: second.chats("after the duplicate join").length},
    leave_frames: s.stats.sent.filter((x) => x.frame[3] === "phx_leave").map((x) => ({join_ref: x.frame[0], topic: x.frame[2]})),
    presence_settled: settled,
    student_view: view(second.pres),
    coach_view: view(kc.pres),
    chat: chat1,
  })
}

// 5. A rejoin over the same socket without a leave, as phoenix.js does after a phx_error
//    (the server sends one e.g. for an overloaded topic): the server must replace the old
//    join. The phx_error is triggered on the channel the way phoenix.js dispatches a
//    received one (channel.trigger); the rejoin that follows is phoenix.js's own.
scenarios.same_socket_rejoin = async () => {
  const s = client("student", {token: cfg.tokens.student, opts: FAST})
  const k = client("coach", {token: cfg.tokens.coach})
  await Promise.all([connect(s), connect(k)])
  const kc = channel(k, cfg.topic, {}, {presence: true})
  kc.join()
  await kc.joined()
  const chan = channel(s, cfg.topic, {}, {presence: true})
  chan.join()
  await chan.joined()
  const one = {[cfg.users.student]: 1, [cfg.users.coach]: 1}
  const settled1 = await waitFor(() => viewIs(chan.pres, one) && viewIs(kc.pres, one), 3000)
  await sleep(200)

  const beforeRejoin = now()
  const oldRef = chan.ch.joinRef()
  chan.ch.trigger("phx_error", {reason: "simulated"})
  await chan.joined(2, 5000)
  const settled2 = await waitFor(() => chan.pres.joinRef === chan.ch.joinRef() && viewIs(chan.pres, one) && viewIs(kc.pres, one), 3000)
  await sleep(300)
  const chat2 = await push(kc, "chat:new", {message: "after the rejoin"})
  await waitFor(() => chan.chats("after the rejoin").length > 0, 3000)
  await sleep(300)
  emit("same_socket_rejoin", {
    old_join_ref: oldRef,
    new_join_ref: chan.ch.joinRef(),
    oks: chan.rec.oks.map((o) => ({joinRef: o.joinRef, t: o.t})),
    closes: chan.rec.closes.length,
    state: chan.state(),
    frames_for_old_join: received(s, cfg.topic, beforeRejoin).filter((m) => m.join_ref === oldRef).map((m) => ({event: m.event, ref: m.ref})),
    presence_settled_before: settled1,
    presence_settled: settled2,
    student_view: view(chan.pres),
    coach_view: view(kc.pres),
    chat: chat2,
    chats_received: chan.chats("after the rejoin").length,
    socket_opens: s.stats.opens.length,
  })
}

// 6. Leave: ok reply, onClose, and no more traffic for that topic.
scenarios.leave = async () => {
  const s = client("student", {token: cfg.tokens.student})
  const k = client("coach", {token: cfg.tokens.coach})
  await Promise.all([connect(s), connect(k)])
  const kc = channel(k, cfg.topic, {}, {presence: true})
  const sc = channel(s, cfg.topic)
  kc.join()
  await kc.joined()
  sc.join()
  await sc.joined()
  const both = {[cfg.users.student]: 1, [cfg.users.coach]: 1}
  const bothSeen = await waitFor(() => viewIs(kc.pres, both), 3000)
  const joinRef = sc.ch.joinRef()
  // phoenix.js fires the leave's receive("ok") locally at once (a leaving channel cannot
  // push); the server's own answer is the phx_reply to the leave's ref, then phx_close.
  const leavePush = sc.ch.leave()
  const left = await new Promise((resolve) => {
    leavePush.receive("ok", (response) => resolve({status: "ok", response}))
      .receive("timeout", () => resolve({status: "timeout"}))
  })
  const leaveRef = s.stats.sent.find((x) => x.frame[3] === "phx_leave" && x.frame[0] === joinRef).frame[1]
  const isServerReply = (m) => m.topic === cfg.topic && m.event === "phx_reply" && m.ref === leaveRef
  await waitFor(() => s.stats.received.some(isServerReply), 3000)
  const serverReply = s.stats.received.find(isServerReply) || null
  await waitFor(() => sc.rec.closes.length > 0, 2000)
  const goneForCoach = await waitFor(() => viewIs(kc.pres, {[cfg.users.coach]: 1}), 3000)
  const coachView = view(kc.pres)
  const chat = await push(kc, "chat:new", {message: "after the student left"})
  await waitFor(() => kc.chats("after the student left").length > 0, 3000)
  await sleep(500)
  // What came after the server's leave reply, by arrival order (not by clock: same ms).
  const replyIndex = s.stats.received.indexOf(serverReply)
  const afterReply = serverReply
    ? s.stats.received.slice(replyIndex + 1).filter((m) => m.topic === cfg.topic).map((m) => ({t: m.t, join_ref: m.join_ref, ref: m.ref, event: m.event, payload: m.payload}))
    : null
  const again = channel(s, cfg.topic)
  again.join()
  await again.joined()
  const backForCoach = await waitFor(() => viewIs(kc.pres, both), 3000)
  emit("leave", {
    join_ref: joinRef,
    leave: left,
    leave_ref: leaveRef,
    server_reply: serverReply && {join_ref: serverReply.join_ref, ref: serverReply.ref, payload: serverReply.payload, t: serverReply.t},
    closes: sc.rec.closes,
    state: sc.state(),
    still_listed: s.socket.channels.includes(sc.ch),
    both_seen_by_coach: bothSeen,
    gone_for_coach: goneForCoach,
    coach_view: coachView,
    back_for_coach: backForCoach,
    coach_view_after_rejoin: view(kc.pres),
    coach_chat: chat,
    student_frames_after_reply: afterReply,
    student_chats_after_leave: sc.chats("after the student left").length,
    rejoin: again.rec.oks[0] ? "ok" : (again.rec.errors[0] ? again.rec.errors[0].response : "none"),
  })
}

// 7. Presence as phoenix.js's Presence sees it.
scenarios.presence = async () => {
  const student = cfg.users.student
  const coach = cfg.users.coach
  const s = client("student", {token: cfg.tokens.student})
  const k = client("coach", {token: cfg.tokens.coach})
  await Promise.all([connect(s), connect(k)])
  const sc = channel(s, cfg.topic, {}, {presence: true})
  sc.join()
  await sc.joined()
  const alone = await waitFor(() => viewIs(sc.pres, {[student]: 1}), 3000)
  emit("presence_student_alone", {reached: alone, view: view(sc.pres), syncs: sc.rec.syncs})

  const kc = channel(k, cfg.topic, {}, {presence: true})
  kc.join()
  await kc.joined()
  const both = {[student]: 1, [coach]: 1}
  const bothReached = await waitFor(() => viewIs(sc.pres, both) && viewIs(kc.pres, both), 3000)
  emit("presence_both", {reached: bothReached, student_view: view(sc.pres), coach_view: view(kc.pres)})

  const left = await leave(kc)
  const afterLeave = await waitFor(() => viewIs(sc.pres, {[student]: 1}), 3000)
  emit("presence_coach_left", {leave: left, reached: afterLeave, student_view: view(sc.pres)})

  const tab2 = client("student_tab2", {token: cfg.tokens.student})
  await connect(tab2)
  const t2 = channel(tab2, cfg.topic, {}, {presence: true})
  t2.join()
  await t2.joined()
  const twoMetas = await waitFor(() => viewIs(sc.pres, {[student]: 2}) && viewIs(t2.pres, {[student]: 2}), 3000)
  emit("presence_second_tab", {reached: twoMetas, student_view: view(sc.pres), tab2_view: view(t2.pres)})

  tab2.socket.disconnect()
  const backToOne = await waitFor(() => viewIs(sc.pres, {[student]: 1}), 3000)
  emit("presence_second_tab_closed", {reached: backToOne, student_view: view(sc.pres)})
}

// 8. The server process restarts: reconnect, rejoin with last_seq, presence and chat again.
scenarios.restart = async () => {
  const student = cfg.users.student
  const coach = cfg.users.coach
  const both = {[student]: 1, [coach]: 1}
  // What the page keeps: the highest seq it has seen, handed back on every (re)join.
  const lastSeq = {student: null, coach: null}
  const paramsSeen = {student: [], coach: []}
  const make = (who) => {
    const c = client(who, {token: cfg.tokens[who], opts: FAST})
    const chan = channel(c, cfg.topic, () => {
      const p = lastSeq[who] === null ? {} : {last_seq: lastSeq[who]}
      paramsSeen[who].push(p)
      return p
    }, {presence: true})
    const bump = (seq) => { if (Number.isInteger(seq) && seq > (lastSeq[who] || 0)) { lastSeq[who] = seq } }
    chan.ch.joinPush.receive("ok", (r) => bump(r.last_seq))
    for (const event of EVENTS) { chan.ch.on(event, (p) => bump(p.seq)) }
    return {c, chan}
  }
  const S = make("student")
  const K = make("coach")
  await Promise.all([connect(S.c), connect(K.c)])
  S.chan.join()
  await S.chan.joined()
  K.chan.join()
  await K.chan.joined()
  const before = await waitFor(() => viewIs(S.chan.pres, both) && viewIs(K.chan.pres, both), 3000)
  const chatBefore = await push(K.chan, "chat:new", {message: "before the restart"})
  await waitFor(() => S.chan.chats("before the restart").length > 0, 3000)
  emit("before_restart", {
    presence: before, student_view: view(S.chan.pres), coach_view: view(K.chan.pres),
    chat: chatBefore, last_seq: {...lastSeq},
  })

  const answer = await step("restart_me", {last_seq: {...lastSeq}})
  const restartedAt = now()

  const rejoined = await waitFor(() => S.chan.rec.oks.length >= 2 && K.chan.rec.oks.length >= 2, 15000)
  const presenceBack = await waitFor(
    () => S.chan.pres.joinRef === S.chan.ch.joinRef() && K.chan.pres.joinRef === K.chan.ch.joinRef() &&
      viewIs(S.chan.pres, both) && viewIs(K.chan.pres, both),
    cfg.presence_wait_ms || 3000,
  )
  const missed = answer.missed_message
  const recovered = await waitFor(() => S.chan.chats(missed).length > 0 && K.chan.chats(missed).length > 0, 5000)
  await sleep(300) // a duplicate delivery would show up here
  const chatAfterCoach = await push(K.chan, "chat:new", {message: "after the restart (coach)"})
  const chatAfterStudent = await push(S.chan, "chat:new", {message: "after the restart (student)"})
  const chatsArrived = await waitFor(() => [S.chan, K.chan].every((x) => x.chats("after the restart (coach)").length && x.chats("after the restart (student)").length), 3000)
  await sleep(200)
  for (const [who, X] of [["student", S], ["coach", K]]) {
    const oks = X.chan.rec.oks
    emit("after_restart", {
      who,
      restarted_at: restartedAt,
      rejoined,
      presence_back: presenceBack,
      recovered,
      socket: summary(X.c),
      channel_state: X.chan.state(),
      join_oks: oks.map((o) => ({t: o.t, joinRef: o.joinRef, last_seq: o.response.last_seq, recovery: o.response.recovery || null, snapshot_messages: o.response.messages.map((m) => m.message)})),
      join_params_sent: joinFramesSent(X.c, cfg.topic).map((f) => f.payload),
      params_evaluated: paramsSeen[who],
      view: view(X.chan.pres),
      presence_frames: presenceFrames(X.c, cfg.topic),
      presence_syncs: X.chan.rec.syncLog,
      chats: X.chan.chats().map((e) => ({seq: e.payload.seq, message: e.payload.message, joinRef: e.joinRef})),
      missed_chat_events: X.chan.chats(missed).length,
      chat_after: who === "coach" ? chatAfterCoach : chatAfterStudent,
      chats_arrived: chatsArrived,
    })
  }
}

// -- main ---------------------------------------------------------------------------------
async function main() {
  const run = scenarios[scenarioName]
  if (!run) { throw new Error(`unknown scenario ${scenarioName}`) }
  await run()
}

const watchdog = setTimeout(() => {
  process.stdout.write(JSON.stringify({fatal: `scenario ${scenarioName} did not finish in ${cfg.deadline_ms || 30000} ms`}) + "\n")
  process.exit(3)
}, cfg.deadline_ms || 30000)

main().then(
  () => {
    sockets.forEach((socket) => socket.disconnect())
    clearTimeout(watchdog)
    process.stdout.write(JSON.stringify({done: true, t: now()}) + "\n")
    process.exit(0)
  },
  (error) => {
    process.stdout.write(JSON.stringify({fatal: String((error && error.stack) || error)}) + "\n")
    process.exit(2)
  },
)
