"""A call in the lesson room (issue 18, items 1 and 6): the student's and the coach's
pages, each in its own Chromium process with a fake microphone, on the same lesson.

Every call's media stays on 127.0.0.1: the server (its own process here) hands out
relay-only ICE through a private coturn this module starts on the loopback address
(RTC_TURN_SECRET, RTC_TURN_URLS, RTC_ICE_TRANSPORT_POLICY=relay; GET
/api/rtc/credentials/ mints the pages' TURN credentials), so a call connects only
through that relay. Chromium needs --allow-loopback-in-peer-connection to use a
loopback address for WebRTC (tests/browser/conftest.py: MEDIA_ARGS).

What the pages' RTCPeerConnections do is read with getStats through a wrapper the test
adds before the page's own scripts (PEERS): the page itself has no test hook. The times
a call takes to connect and to recover from a socket drop are printed (`-s`), never
asserted: the machine is shared.
"""

import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from coaching.models import Role
from tests.browser.conftest import (
    PHONE,
    ROOT,
    Pages,
    check_axe,
    expect,
    expect_online,
    in_thread,
    log_in,
)
from tests.realtime.test_review import call, joined, refused
from tests.support.auth import token_for
from tests.support.phoenix import PhoenixClient
from tests.support.servers import ServerProcess, free_port, server_env, wait_for_quiet_database

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
TURN_SECRET = secrets.token_hex(16)
SLOW = 30_000  # ms: the machine is shared; the figures come from the printed times

pytestmark = pytest.mark.skipif(
    not os.access(TURNSERVER, os.X_OK),
    reason="coturn's turnserver is missing: make test installs it (scripts/ensure-coturn.sh)",
)

# Every RTCPeerConnection the page makes, for getStats.
PEERS = """
window.__callPeers = [];
window.RTCPeerConnection = class extends window.RTCPeerConnection {
  constructor(...args) { super(...args); window.__callPeers.push(this); }
};
"""

# The page's latest connection: its audio bytes in and out, the path ICE chose, the ICE
# username fragment it offered or answered with (a restart changes it).
STATS = """async () => {
  const pc = window.__callPeers[window.__callPeers.length - 1];
  if (!pc) return null;
  const stats = await pc.getStats();
  const out = { peers: window.__callPeers.length, state: pc.connectionState,
    inbound: 0, outbound: 0, local: null, remote: null };
  let pairId = null;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") out.inbound = r.bytesReceived;
    if (r.type === "outbound-rtp" && r.kind === "audio") out.outbound = r.bytesSent;
    if (r.type === "transport" && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
  });
  const pair = pairId && stats.get(pairId);
  if (pair) {
    const local = stats.get(pair.localCandidateId);
    const remote = stats.get(pair.remoteCandidateId);
    out.local = [local.address, local.candidateType];
    out.remote = [remote.address, remote.candidateType];
  }
  const sdp = pc.localDescription ? pc.localDescription.sdp : "";
  out.ufrag = (sdp.match(/a=ice-ufrag:(\\S+)/) || [])[1] || null;
  return out;
}"""

CONNECTED = """() => {
  const pc = window.__callPeers[window.__callPeers.length - 1];
  return Boolean(pc) && pc.connectionState === "connected";
}"""


def stun_answers(port: int) -> bool:
    """Whether a STUN binding request to 127.0.0.1:`port` (UDP) gets an answer."""
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + secrets.token_bytes(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.3)
        probe.sendto(request, ("127.0.0.1", port))
        try:
            return probe.recv(512)[8:20] == request[8:20]
        except OSError:
            return False


@pytest.fixture(scope="module")
def turn_port(tmp_path_factory) -> Iterator[int]:
    """A private coturn on 127.0.0.1 that checks the server's minted credentials
    (use-auth-secret) and relays on 127.0.0.1 only."""
    port = free_port()
    relay = free_port() // 2 * 2  # a small range of relay ports from a free one
    log = Path(tmp_path_factory.mktemp("coturn")) / "turnserver.log"
    args = [
        TURNSERVER, "-n", "--no-cli", "--no-tls", "--no-dtls", "--fingerprint",
        "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
        f"--min-port={relay}", f"--max-port={relay + 60}", "--allow-loopback-peers",
        "--use-auth-secret", f"--static-auth-secret={TURN_SECRET}", "--realm=inswing.test",
        "--log-file=stdout", "--simple-log", "--no-stdout-log",
    ]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not stun_answers(port):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"coturn did not answer: {log.read_text()}"
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def relay_only(turn_port: int, **env: str) -> dict[str, str]:
    """A server's environment: calls only through the private coturn."""
    return server_env(
        RTC_TURN_SECRET=TURN_SECRET,
        RTC_TURN_URLS=f"turn:127.0.0.1:{turn_port}?transport=udp",
        RTC_ICE_TRANSPORT_POLICY="relay",
        **env,
    )


@pytest.fixture(scope="module")
def call_server(django_db_setup, django_db_blocker, server_log_dir, turn_port):
    with django_db_blocker.unblock():
        server = ServerProcess(free_port(), relay_only(turn_port), server_log_dir / "calls.log")
    server.start()
    yield server
    server.stop()


@contextmanager
def ends_on(server: ServerProcess, browsers) -> Iterator[list[Pages]]:
    """A page for each end of the call, each in its own Chromium."""
    ends = [Pages(browser, server.http_url) for browser in browsers]
    yield ends
    for pages in ends:
        pages.close()
        assert pages.errors == []
    wait_for_quiet_database()


@pytest.fixture
def two(call_server, media_browsers, transactional_db):
    with ends_on(call_server, media_browsers) as ends:
        yield ends


class Room:
    """One user's lesson room, with their socket routed through the test (`drop`)."""

    def __init__(self, pages: Pages, user, session, *, init_script=PEERS, **open_args) -> None:
        self.user = user
        self.page = pages.open(user.username, init_script=init_script, **open_args)
        self.sockets: list = []
        self.console: list[str] = []  # what the page logged, said when a wait fails
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        self.blocked = False
        self.page.route_web_socket(re.compile(r"/socket/websocket"), self._socket)
        log_in(self.page, user, lands_on="/student/" if user.role == Role.STUDENT else "/coach/")
        self.page.goto(f"/sessions/{session.session_id}/")
        expect_online(self.page, timeout=SLOW)
        self.bar = self.page.locator("#call-bar")
        self.status = self.bar.locator(".call-status")

    def _socket(self, ws) -> None:
        if self.blocked:
            ws.close()
            return
        ws.connect_to_server()
        self.sockets.append(ws)

    def drop(self) -> None:
        """Close the page's socket (both ways) and refuse it until `restore`."""
        self.blocked = True
        for ws in self.sockets:
            ws.close()
        self.sockets.clear()

    def restore(self) -> None:
        self.blocked = False

    def button(self, name: str):
        return self.bar.get_by_role("button", name=name, exact=True)

    def stats(self) -> dict:
        return self.page.evaluate(STATS)

    def wait_connected(self) -> None:
        self.page.wait_for_function(CONNECTED, timeout=SLOW, polling=50)


def inbound_grows(room: Room, wait: float = 1.0) -> bool:
    before = room.stats()["inbound"]
    time.sleep(wait)
    return room.stats()["inbound"] > before


def outbound_grows(room: Room, wait: float = 1.0) -> bool:
    before = room.stats()["outbound"]
    time.sleep(wait)
    return room.stats()["outbound"] > before


def eventually(check, timeout: float = SLOW / 1000, rooms: tuple = ()) -> None:
    """Wait for `check()`; on a timeout, say how `rooms` stand."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            seen = {r.user.username: (r.stats(), r.status.text_content(), r.console) for r in rooms}
            raise AssertionError(f"{check.__name__} never held: {seen}")
        time.sleep(0.2)


def connected_call(student_room: Room, coach_room: Room) -> float:
    """The student calls and the coach accepts: seconds from Accept to both connected."""
    student_room.button("Talk").click()
    expect(coach_room.status).to_have_text(
        f"{student_room.user.display_name} is calling you", timeout=SLOW
    )
    expect(student_room.status).to_have_text(f"Calling {coach_room.user.display_name}…")
    accepted = time.monotonic()
    coach_room.button("Accept").click()
    coach_room.wait_connected()
    student_room.wait_connected()
    took = time.monotonic() - accepted
    for room, other in ((student_room, coach_room), (coach_room, student_room)):
        expect(room.status).to_have_text(f"On a call with {other.user.display_name}", timeout=SLOW)
        expect(room.bar).to_have_attribute("data-state", "connected")
    return took


def test_a_call_connects_through_the_relay_with_audio_both_ways(
    two, student, coach, active_session
):
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    took = connected_call(student_room, coach_room)
    print(f"\ncall: accepted → both connected in {took:.2f} s")
    for room in (student_room, coach_room):
        eventually(lambda room=room: inbound_grows(room))
        stats = room.stats()
        # Only through the private coturn: relayed addresses on 127.0.0.1 at both ends.
        assert (stats["local"], stats["remote"]) == (
            ["127.0.0.1", "relay"],
            ["127.0.0.1", "relay"],
        ), stats
        # The fake microphone beeps: the other side is seen speaking.
        other = room.bar.locator('[data-person="other"]')
        expect(other).to_have_class(re.compile("is-speaking"), timeout=SLOW)
    expect(coach_room.button("Mute")).to_have_attribute("aria-pressed", "false")

    coach_room.button("Hang up").click()
    expect(coach_room.status).to_have_text("You hung up.")
    expect(student_room.status).to_have_text(f"{coach.display_name} hung up.")
    for room in (student_room, coach_room):
        room.page.wait_for_function(
            "() => window.__callPeers[0].connectionState === 'closed'", timeout=SLOW
        )
        expect(room.button("Talk")).to_be_visible()


def test_mute_stops_the_muted_sides_audio_and_the_other_sees_it(
    two, student, coach, active_session
):
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    connected_call(student_room, coach_room)
    eventually(lambda: outbound_grows(student_room))

    student_room.button("Mute").click()
    expect(student_room.button("Unmute")).to_have_attribute("aria-pressed", "true")
    time.sleep(0.5)  # packets already on their way
    assert not outbound_grows(student_room, wait=1.5)
    assert not inbound_grows(coach_room, wait=1.0)
    shown = coach_room.bar.locator('[data-person="other"]')
    expect(shown).to_have_class(re.compile("is-muted"), timeout=SLOW)
    expect(shown.locator(".call-muted")).to_have_text("Muted")
    expect(coach_room.bar.locator("[aria-live]")).to_have_text(
        f"{student.display_name} muted their microphone."
    )
    eventually(lambda: outbound_grows(coach_room))  # the other side still talks

    student_room.button("Unmute").click()
    eventually(lambda: outbound_grows(student_room))
    eventually(lambda: inbound_grows(coach_room))
    expect(shown).not_to_have_class(re.compile("is-muted"), timeout=SLOW)


def test_a_third_users_socket_cannot_signal_into_the_call(
    two, student, coach, admin_user, make_user, active_session, call_server
):
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    connected_call(student_room, coach_room)
    outsider = in_thread(make_user, Role.STUDENT)
    with PhoenixClient(call_server.socket_url, token_for(outsider)) as client:
        reply = client.join(active_session.topic)[1]
        assert refused(reply, "forbidden"), reply  # not theirs: no join at all
    with joined(PhoenixClient(call_server.socket_url, token_for(admin_user)), active_session) as (
        admin,
        ref,
        snapshot,
    ):
        call_id = snapshot["call"]["call_id"]
        assert snapshot["call"]["state"] == "connected"
        offer = {"type": "offer", "sdp": "v=0\r\n"}
        for to in (None, str(student.pk), str(coach.pk)):
            payload = {"call_id": call_id, "kind": "offer", "data": offer}
            if to:
                payload["to"] = to
            assert refused(call(admin, active_session, ref, "call:signal", payload), "forbidden")
        hangup = call(admin, active_session, ref, "call:hangup", {"call_id": call_id})
        assert refused(hangup, "forbidden"), hangup
    # The call went on untouched, on the same connection.
    for room in (student_room, coach_room):
        eventually(lambda room=room: inbound_grows(room))
        assert room.stats()["peers"] == 1
        expect(room.bar).to_have_attribute("data-state", "connected")


def test_a_socket_dropped_for_five_seconds_restarts_ice_without_hanging_up(
    two, student, coach, active_session
):
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    connected_call(student_room, coach_room)
    before = {room.user.pk: room.stats()["ufrag"] for room in (student_room, coach_room)}

    coach_room.drop()  # the callee's socket: the caller restarts ICE when told
    expect(coach_room.page.locator("#connection")).not_to_have_attribute(
        "data-state", "online", timeout=SLOW
    )
    time.sleep(5)
    back = time.monotonic()
    coach_room.restore()
    expect_online(coach_room.page, timeout=SLOW)
    online = time.monotonic()

    def restarted() -> bool:
        stats = [room.stats() for room in (student_room, coach_room)]
        return all(
            s["ufrag"] != before[room.user.pk] and s["state"] == "connected"
            for s, room in zip(stats, (student_room, coach_room), strict=True)
        )

    eventually(restarted, rooms=(student_room, coach_room))
    for room in (student_room, coach_room):
        expect(room.bar).to_have_attribute("data-state", "connected", timeout=SLOW)
    done = time.monotonic()
    print(
        f"\ncall: socket let through → page online in {online - back:.2f} s → rejoined, "
        f"ICE restarted and both connected {done - online:.2f} s later"
    )
    for room in (student_room, coach_room):
        assert room.stats()["peers"] == 1  # the same call and connection, never hung up
        eventually(lambda room=room: inbound_grows(room))

    student_room.drop()  # the caller's own socket: it restarts at once on its rejoin
    time.sleep(5)
    before = {room.user.pk: room.stats()["ufrag"] for room in (student_room, coach_room)}
    student_room.restore()
    expect_online(student_room.page, timeout=SLOW)
    eventually(restarted, rooms=(student_room, coach_room))
    for room in (student_room, coach_room):
        expect(room.bar).to_have_attribute("data-state", "connected", timeout=SLOW)
        assert room.stats()["peers"] == 1
        eventually(lambda room=room: inbound_grows(room))


def test_both_sockets_dropped_together_recover_when_the_callee_returns_later(
    two, student, coach, active_session
):
    """As when their server process restarts: the caller back first offers an ICE restart
    the callee's absent socket never gets (signals are not stored); the callee's own
    report when it is back has the caller offer again."""
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    connected_call(student_room, coach_room)
    rooms = (student_room, coach_room)
    before = {room.user.pk: room.stats()["ufrag"] for room in rooms}
    for room in rooms:
        room.drop()
    time.sleep(5)
    student_room.restore()
    expect_online(student_room.page, timeout=SLOW)
    expect(student_room.status).to_have_text("Reconnecting the call…", timeout=SLOW)
    time.sleep(2)  # the caller's restart offer goes nowhere meanwhile
    coach_room.restore()
    expect_online(coach_room.page, timeout=SLOW)

    def restarted() -> bool:
        return all(
            s["ufrag"] != before[room.user.pk] and s["state"] == "connected"
            for s, room in zip([room.stats() for room in rooms], rooms, strict=True)
        )

    eventually(restarted, rooms=rooms)
    for room in rooms:
        expect(room.bar).to_have_attribute("data-state", "connected", timeout=SLOW)
        assert room.stats()["peers"] == 1
        eventually(lambda room=room: inbound_grows(room))


def test_the_lesson_ending_ends_the_call_on_both_screens(two, student, coach, active_session):
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    connected_call(student_room, coach_room)
    coach_room.page.once("dialog", lambda dialog: dialog.accept())
    coach_room.page.locator("#end-button").click()
    for room in (student_room, coach_room):
        expect(room.status).to_have_text("The call ended with the lesson.", timeout=SLOW)
        room.page.wait_for_function(
            "() => window.__callPeers[0].connectionState === 'closed'", timeout=SLOW
        )
        expect(room.button("Talk")).to_be_hidden()


def test_the_coach_declines_and_the_student_sees_it(two, student, coach, active_session):
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    student_room.button("Talk").click()
    expect(coach_room.status).to_have_text(f"{student.display_name} is calling you", timeout=SLOW)
    expect(student_room.button("Cancel")).to_be_visible()
    for room in (student_room, coach_room):
        check_axe(room.page, f"a ringing call, {room.user.username}")
    coach_room.button("Decline").click()
    expect(student_room.status).to_have_text(f"{coach.display_name} declined the call.")
    expect(coach_room.status).to_have_text("You declined the call.")
    assert student_room.page.evaluate("() => window.__callPeers.length") == 0


AUTO_CONNECT = "localStorage.setItem('inswing:call:auto-connect:{id}', '1');"


def test_two_who_always_connect_are_talking_without_a_tap_in_korean_on_a_phone(
    two, student, coach, active_session
):
    """Both turned on "always connect voice in my lessons" (in this browser): the call
    starts as soon as both are in; the student's phone shows it on the Swing tab."""
    student_room = Room(two[0], student, active_session, lang="ko", viewport=PHONE, mobile=True)
    student_room.page.get_by_role("tab", name="스윙").click()
    student_room.bar.locator(".call-options > summary").click()  # 통화 설정
    student_room.bar.get_by_label("레슨에서 항상 음성 연결").check()
    coach_room = Room(
        two[1],
        coach,
        active_session,
        lang="ko",
        init_script=PEERS + AUTO_CONNECT.format(id=coach.pk),
    )
    coach_room.wait_connected()
    student_room.wait_connected()
    expect(student_room.status).to_have_text(f"{coach.display_name}님과 통화 중", timeout=SLOW)
    expect(student_room.button("음소거")).to_be_visible()
    expect(student_room.button("통화 종료")).to_be_in_viewport()
    for room in (student_room, coach_room):
        check_axe(room.page, f"a call, {room.user.username}")
    student_room.page.screenshot(path=ROOT / "docs/screenshots/room-call-ko-phone-student.png")


VIDEO_IN = """async () => {
  const pc = window.__callPeers[window.__callPeers.length - 1];
  let bytes = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") bytes = r.bytesReceived;
  });
  return bytes;
}"""


def test_a_laptop_turns_its_camera_on_and_off_without_renegotiating(
    two, student, coach, active_session
):
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    connected_call(student_room, coach_room)
    camera = coach_room.button("Camera")
    expect(camera).to_have_attribute("aria-pressed", "false")
    assert student_room.page.evaluate(VIDEO_IN) == 0  # audio only by default

    camera.click()
    expect(camera).to_have_attribute("aria-pressed", "true")
    expect(coach_room.bar.get_by_label("Your camera")).to_be_visible()
    expect(student_room.bar.get_by_label("The other side's camera")).to_be_visible(timeout=SLOW)
    eventually(lambda: student_room.page.evaluate(VIDEO_IN) > 0)

    camera.click()
    expect(camera).to_have_attribute("aria-pressed", "false")
    expect(coach_room.bar.get_by_label("Your camera")).to_be_hidden()
    time.sleep(0.5)
    stopped = student_room.page.evaluate(VIDEO_IN)
    time.sleep(1.0)
    assert student_room.page.evaluate(VIDEO_IN) == stopped
    for room in (student_room, coach_room):
        assert room.stats()["peers"] == 1
        eventually(lambda room=room: inbound_grows(room))


def test_leaving_the_page_ends_the_call_after_the_leave_grace(two, student, coach, active_session):
    """A page that goes takes its media with it: the other sees the call reconnecting,
    then ended once the one who left stays away for LEAVE_NOTICE_GRACE (15 s). (A
    hang-up pushed from pagehide would be lost: the server drops the pushes of a socket
    that closes before it has read them, and phoenix.js closes its socket at pagehide.)"""
    student_room = Room(two[0], student, active_session)
    coach_room = Room(two[1], coach, active_session)
    connected_call(student_room, coach_room)
    coach_room.page.goto("/coach/")
    expect(student_room.status).to_have_text("Reconnecting the call…", timeout=SLOW)
    expect(student_room.status).to_have_text(
        f"The call ended: {coach.display_name} left the lesson.", timeout=SLOW
    )
    student_room.page.wait_for_function(
        "() => window.__callPeers[0].connectionState === 'closed'", timeout=SLOW
    )
    expect(student_room.button("Talk")).to_be_hidden()  # the coach is not here to call


def test_a_call_longer_than_its_turn_credential_renews_it_by_an_ice_restart(
    media_browsers, spawn_server, turn_port, student, coach, active_session
):
    """Credentials that last 20 s (RTC_CREDENTIAL_TTL_SECONDS' least): before they run
    out (at 80 % of their life) the caller restarts ICE with fresh ones, both sides
    fetching them, and the call goes on through the relay on the same connection.
    (Left alone, the relay would stop at the allocation's first refresh after the
    credential's end: coturn checks a REST credential's expiry on every authenticated
    request, refreshes included.)"""
    server = spawn_server(**relay_only(turn_port, RTC_CREDENTIAL_TTL_SECONDS="20"))
    with ends_on(server, media_browsers) as (one, other):
        student_room = Room(one, student, active_session)
        coach_room = Room(other, coach, active_session)
        connected_call(student_room, coach_room)
        started = time.monotonic()
        first = {room.user.pk: room.stats()["ufrag"] for room in (student_room, coach_room)}

        def renewed() -> bool:
            return all(
                room.stats()["ufrag"] != first[room.user.pk] for room in (student_room, coach_room)
            )

        eventually(renewed, timeout=90)
        took = time.monotonic() - started
        print(f"\ncall: ICE restarted for fresh credentials after {took:.1f} s")
        for room in (student_room, coach_room):
            assert room.stats()["state"] == "connected"
            assert room.stats()["peers"] == 1
            eventually(lambda room=room: inbound_grows(room))
            expect(room.bar).to_have_attribute("data-state", "connected")
