// A Phoenix V1 client: the npm `phoenix-channels` package (vsn=1.0.0, JSON object frames),
// driven through its own API. Usage (cwd = repo root):
//   PHX_V1='{"endpoint", "token", "topic"}' node tests/realtime/js/v1_client.mjs
// Prints one JSON line: what the client saw (the join reply, the push reply, the
// broadcast, heartbeat replies, the frames as they crossed the wire, errors).
// tests/realtime/test_phoenix_v1_client.py asserts on it.

import phoenixChannels from "phoenix-channels"

const {Socket} = phoenixChannels
const cfg = JSON.parse(process.env.PHX_V1 || "{}")
const seen = {frames: [], errors: [], heartbeats: 0}
const finish = (extra = {}) => {
  process.stdout.write(JSON.stringify({...seen, ...extra}) + "\n")
  process.exit(0)
}
setTimeout(() => finish({timeout: true}), 10000)

const socket = new Socket(cfg.endpoint, {params: {token: cfg.token}, heartbeatIntervalMs: 200})
socket.onError((error) => seen.errors.push(String(error && error.message || error)))
socket.onMessage((message) => {
  seen.frames.push(message)
  if (message.topic === "phoenix" && message.payload.status === "ok") seen.heartbeats += 1
  maybeDone()
})
socket.connect()

const channel = socket.channel(cfg.topic, {})
channel.on("chat:added", (payload) => { seen.broadcast = payload; maybeDone() })
channel.join()
  .receive("ok", (response) => {
    seen.join = {status: "ok", you: response.you}
    channel.push("chat:new", {message: "hello from V1", client_msg_id: "v1-1"})
      .receive("ok", (reply) => { seen.push = {status: "ok", reply}; maybeDone() })
      .receive("error", (reply) => { seen.push = {status: "error", reply}; maybeDone() })
  })
  .receive("error", (response) => { seen.join = {status: "error", response}; finish() })

function maybeDone() {
  if (seen.push && seen.broadcast && seen.heartbeats >= 2) {
    socket.disconnect()
    finish()
  }
}
