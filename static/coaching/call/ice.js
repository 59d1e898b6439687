// The ICE servers a call uses: GET /api/rtc/credentials/ → {ice_servers: [{urls,
// username?, credential?}], ice_transport_policy: "all" | "relay", expires_at: epoch ms
// or null}. Asked for at every call and before every ICE restart (TURN credentials
// expire: a restart gathers new relay candidates with the new ones). When the server has
// none to give (no such endpoint, or it cannot be reached) the call goes direct.
import { apiFetch } from "../realtime.js";

export const CREDENTIALS_URL = "/api/rtc/credentials/";

// {config (an RTCConfiguration), expiresAt (epoch ms of the TURN credential, or null)}
export async function iceServers() {
  try {
    const data = await apiFetch("GET", CREDENTIALS_URL);
    return {
      config: {
        iceServers: Array.isArray(data.ice_servers) ? data.ice_servers : [],
        iceTransportPolicy: data.ice_transport_policy === "relay" ? "relay" : "all",
      },
      expiresAt: Number(data.expires_at) || null,
    };
  } catch (err) {
    return { config: { iceServers: [], iceTransportPolicy: "all" }, expiresAt: null };
  }
}

// When to restart ICE with fresh credentials: at 80 % of what is left of the current
// ones (a minute before the end of an hour's), never sooner than in 10 s.
export function renewDelay(expiresAt, now = Date.now()) {
  return expiresAt ? Math.max(10_000, (expiresAt - now) * 0.8) : null;
}
