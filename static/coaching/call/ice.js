// The ICE servers a call uses, asked for at every call (TURN credentials expire):
// GET /api/rtc/credentials/ → {ice_servers: [{urls, username?, credential?}],
// ice_transport_policy: "all" | "relay"}. When the server has none to give (no such
// endpoint, or it cannot be reached) the call goes direct: host candidates only.
import { apiFetch } from "../realtime.js";

export const CREDENTIALS_URL = "/api/rtc/credentials/";

export async function iceConfiguration() {
  try {
    const data = await apiFetch("GET", CREDENTIALS_URL);
    return {
      iceServers: Array.isArray(data.ice_servers) ? data.ice_servers : [],
      iceTransportPolicy: data.ice_transport_policy === "relay" ? "relay" : "all",
    };
  } catch (err) {
    return { iceServers: [], iceTransportPolicy: "all" };
  }
}
