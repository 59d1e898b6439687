"""deploy/coturn/: a real coturn (Debian's `turnserver`), configured from the one template,
accepts the TURN credentials GET /api/rtc/credentials/ mints and refuses any others
(another secret, another user's, expired); docker-compose's `turn` service and the app's
settings agree on the secret and the ports."""

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint

from coaching.services import rtc
from inswing_realtime.cluster import TURN_RENDERER, Coturn, renderer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "range-side-shared-secret"
render = renderer(TURN_RENDERER)


@pytest.fixture(scope="module")
def coturn(tmp_path_factory) -> Iterator[Coturn]:
    """A private turnserver on a free loopback port, as `make cluster` runs it."""
    server = Coturn(tmp_path_factory.mktemp("coturn")).start()
    yield server
    server.stop()


@pytest.fixture
def minted(coturn, settings, student):
    """What GET /api/rtc/credentials/ answers the student, with this coturn as TURN."""
    settings.RTC_TURN_SECRET = coturn.secret
    settings.RTC_TURN_URLS = coturn.urls
    settings.RTC_ICE_SERVERS = []
    settings.RTC_CREDENTIAL_TTL_SECONDS = 600
    (server,) = rtc.ice_configuration(student.pk, time.time())["ice_servers"]
    assert server["urls"] == coturn.urls
    return server


async def allocate(port: int, username: str, password: str, transport: str = "udp"):
    """A TURN Allocate on coturn (aioice's client): the relayed address."""
    relay, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol,
        ("127.0.0.1", port),
        username=username,
        password=password,
        transport=transport,
    )
    try:
        return relay.get_extra_info("sockname")
    finally:
        relay.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_coturn_accepts_the_minted_credential(coturn, minted, transport):
    host, port = await allocate(coturn.port, minted["username"], minted["credential"], transport)
    turn = render.Turn(secret=SECRET)  # the relay ports are the configuration's
    assert host == "127.0.0.1"
    assert turn.min_port <= port <= turn.max_port


async def test_coturn_refuses_a_credential_of_another_secret(coturn, minted):
    forged = rtc.turn_credential("not-the-secret", minted["username"])
    with pytest.raises(TransactionFailed, match="401"):
        await allocate(coturn.port, minted["username"], forged)


async def test_coturn_refuses_a_credential_for_another_user(coturn, minted, student):
    expiry, _ = minted["username"].split(":")
    with pytest.raises(TransactionFailed, match="401"):
        await allocate(coturn.port, f"{expiry}:{student.pk + 1}", minted["credential"])


async def test_coturn_refuses_an_expired_credential(coturn):
    username = f"{int(time.time()) - 5}:1"
    with pytest.raises(TransactionFailed, match="401"):
        await allocate(coturn.port, username, rtc.turn_credential(coturn.secret, username))


def test_make_clusters_coturn_gives_the_app_settings_it_accepts(coturn):
    env = coturn.app_env()
    urls = rtc.turn_setting(env["RTC_TURN_SECRET"], env["RTC_TURN_URLS"].split(","), "relay")
    assert urls == coturn.urls
    stun = rtc.ice_servers_setting(env["RTC_ICE_SERVERS"])
    assert stun == [{"urls": [f"stun:127.0.0.1:{coturn.port}"]}]
    assert render.stun_answers("127.0.0.1", coturn.port)


# --- The configuration --------------------------------------------------------------------


def test_the_public_configuration_relays_to_no_private_network():
    config = render.render(render.Turn(secret=SECRET))
    assert "{{" not in config
    assert "use-auth-secret" in config and f"static-auth-secret={SECRET}" in config
    for peer in ("10.0.0.0-10.255.255.255", "127.0.0.0-127.255.255.255", "::1"):
        assert f"denied-peer-ip={peer}" in config
    assert "allow-loopback-peers" not in config
    assert "no-tls" in config and "no-cli" in config


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"secret": ""}, "RTC_TURN_SECRET"),
        ({"secret": "two words"}, "spaces"),
        ({"port": 70000}, "TURN_PORT"),
        ({"min_port": 50000, "max_port": 49000}, "TURN_MIN_PORT"),
        ({"listening_ip": "localhost"}, "TURN_LISTENING_IP"),
        ({"external_ip": "203.0.113.9/not-an-ip"}, "TURN_EXTERNAL_IP"),
        ({"tls_certificate": "/etc/cert.pem"}, "TURN_TLS_CERTIFICATE_KEY"),
    ],
)
def test_a_configuration_that_cannot_work_is_refused(changes, says):
    with pytest.raises(render.ConfigError, match=says):
        render.render(render.Turn(**{"secret": SECRET, **changes}))


def _compose_value(value: str) -> str:
    """A docker-compose value with each `${NAME:-default}` at its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_docker_compose_runs_coturn_with_the_apps_secret_and_ports():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    turn = compose["services"]["turn"]
    assert turn["build"]["target"] == "turn"
    env = {k: _compose_value(str(v)) for k, v in turn["environment"].items()}
    site = render.from_environment(env)
    config = render.render(site)
    assert f"listening-port={site.port}" in config
    assert f"{site.port}:{site.port}/udp" in turn["ports"]
    assert f"{site.port}:{site.port}/tcp" in turn["ports"]
    relay = f"{site.min_port}-{site.max_port}"
    assert f"{relay}:{relay}/udp" in turn["ports"]
    for app in ("web1", "web2"):
        app_env = {
            k: _compose_value(str(v)) for k, v in compose["services"][app]["environment"].items()
        }
        assert app_env["RTC_TURN_SECRET"] == site.secret
        urls = rtc.turn_setting(
            app_env["RTC_TURN_SECRET"], app_env["RTC_TURN_URLS"].split(","), "all"
        )
        assert all(url.split("?")[0].endswith(f":{site.port}") for url in urls)
        assert rtc.ice_servers_setting(app_env["RTC_ICE_SERVERS"]) == [
            {"urls": [f"stun:localhost:{site.port}"]}
        ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "AS turn" in dockerfile and "install -y --no-install-recommends coturn" in dockerfile
