// The real phoenix.js client (node_modules/phoenix) connecting while its user holds
// MAX_SOCKETS_PER_USER sockets: tests/deploy/test_cluster_limits.py. With the default
// reconnect backoff it records, one JSON line each: every connection attempt, every
// error (the upgrade's HTTP status as the `ws` library reports it) and its first open,
// then {"done": true}.
import {Socket} from "phoenix"
import WebSocket from "ws"

const cfg = JSON.parse(process.env.PHX_OVER_LIMIT)
const started = Date.now()
const emit = (record) => process.stdout.write(JSON.stringify({t: Date.now() - started, ...record}) + "\n")

class Recorded extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols)
    emit({attempt: true})
  }
}

const socket = new Socket(cfg.endpoint, {transport: Recorded, params: {token: cfg.token}})
socket.onError((error) => emit({error: (error && error.message) || String(error)}))
socket.onOpen(() => {
  emit({opened: true})
  socket.disconnect(() => { emit({done: true}); process.exit(0) })
})
socket.connect()
setTimeout(() => { emit({done: true, timed_out: true}); process.exit(0) }, cfg.deadline_ms)
