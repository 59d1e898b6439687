"""`GET /api/rtc/credentials/`: the ICE servers a call's page uses, TURN credentials minted
per user from the shared secret (coturn's static-auth-secret scheme; tests/deploy/
test_coturn.py has a real coturn accept them), and the settings checked at startup."""

import base64
import hashlib
import hmac
import subprocess
import sys
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from coaching.services import rtc
from tests.api.test_schema import openapi
from tests.support.auth import api_client_for
from tests.support.servers import ROOT, server_env

URL = "/api/rtc/credentials/"
SECRET = "north-tee-shared-secret"
STUN = [{"urls": ["stun:stun.example.net:3478"]}]
TURN_URLS = ["turn:turn.example.net:3478?transport=udp", "turns:turn.example.net:5349"]


@pytest.fixture
def turn(settings):
    settings.RTC_ICE_SERVERS = STUN
    settings.RTC_TURN_SECRET = SECRET
    settings.RTC_TURN_URLS = TURN_URLS
    settings.RTC_CREDENTIAL_TTL_SECONDS = 600
    settings.RTC_ICE_TRANSPORT_POLICY = "relay"
    return settings


def test_without_a_token_it_is_401(db):
    response = api_client_for(None).get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_signed_in_user_gets_turn_credentials_of_their_own(turn, student, coach):
    before = int(time.time())
    response = api_client_for(student).get(URL)
    after = int(time.time())
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["ice_transport_policy"] == "relay"
    stun, minted = body["ice_servers"]
    assert stun == STUN[0]
    assert minted["urls"] == TURN_URLS
    expiry, user_id = minted["username"].split(":")
    assert user_id == str(student.pk)
    assert before + 600 <= int(expiry) <= after + 600
    assert body["expires_at"] == int(expiry) * 1000
    # The TURN REST API's password: base64(HMAC-SHA1(secret, username)).
    digest = hmac.new(SECRET.encode(), minted["username"].encode(), hashlib.sha1).digest()
    assert minted["credential"] == base64.b64encode(digest).decode()

    coachs = api_client_for(coach).get(URL).json()["ice_servers"][1]
    assert coachs["username"].endswith(f":{coach.pk}")
    assert coachs["credential"] != minted["credential"]


def test_without_turn_only_the_configured_servers_and_nothing_expires(settings, student):
    settings.RTC_ICE_SERVERS = STUN
    settings.RTC_TURN_SECRET = ""
    settings.RTC_TURN_URLS = []
    settings.RTC_ICE_TRANSPORT_POLICY = "all"
    body = api_client_for(student).get(URL).json()
    assert body == {"ice_servers": STUN, "ice_transport_policy": "all", "expires_at": None}


def test_it_is_throttled_per_user(turn, student, coach):
    rate = turn.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["rtc_credentials"]
    client = api_client_for(student)
    for _ in range(int(rate.split("/")[0])):
        assert client.get(URL).status_code == 200
    response = client.get(URL)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert api_client_for(coach).get(URL).status_code == 200


def test_it_is_in_the_openapi_schema():
    operation = openapi()["paths"][URL]["get"]
    assert operation["description"]
    responses = operation["responses"]
    assert {"200", "401", "429"} <= set(responses)
    schema = responses["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/RtcCredentials"}


# --- The settings ---------------------------------------------------------------------


def test_ice_servers_are_rtc_ice_server_json_without_credentials():
    text = '[{"urls": "stun:a.example:3478"}, {"urls": ["stun:b.example", "turn:c.example"]}]'
    assert rtc.ice_servers_setting(text) == [
        {"urls": ["stun:a.example:3478"]},
        {"urls": ["stun:b.example", "turn:c.example"]},
    ]
    assert rtc.ice_servers_setting("") == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("stun:a.example", "not JSON"),
        ('{"urls": "stun:a.example"}', "JSON array"),
        ('[{"url": "stun:a.example"}]', "not an RTCIceServer"),
        ('[{"urls": "turn:t.example", "username": "u", "credential": "p"}]', "credential"),
        ('[{"urls": "http://a.example"}]', "not a stun:"),
        ('[{"urls": []}]', "at least one URL"),
    ],
)
def test_bad_ice_servers_are_refused_with_the_reason(text, says):
    with pytest.raises(ImproperlyConfigured, match=says):
        rtc.ice_servers_setting(text)


@pytest.mark.parametrize("value", ["0", "19", "3601", "86400", "an hour", ""])
def test_a_credential_lives_twenty_seconds_to_one_hour(value):
    with pytest.raises(ImproperlyConfigured, match="RTC_CREDENTIAL_TTL_SECONDS"):
        rtc.ttl_setting(value)
    assert (rtc.ttl_setting("20"), rtc.ttl_setting("3600")) == (20, 3600)


def test_turn_needs_both_the_secret_and_the_urls_and_relay_needs_turn():
    with pytest.raises(ImproperlyConfigured, match="together"):
        rtc.turn_setting(SECRET, [], "all")
    with pytest.raises(ImproperlyConfigured, match="together"):
        rtc.turn_setting("", TURN_URLS, "all")
    with pytest.raises(ImproperlyConfigured, match="relay"):
        rtc.turn_setting("", [], "relay")
    with pytest.raises(ImproperlyConfigured, match="RTC_ICE_TRANSPORT_POLICY"):
        rtc.transport_policy_setting("direct")
    assert rtc.turn_setting(SECRET, TURN_URLS, "relay") == TURN_URLS


def test_a_bad_setting_stops_the_process_with_its_reason():
    env = server_env(RTC_ICE_SERVERS='[{"urls": "turn:t.example", "credential": "p"}]')
    code = "import django; django.setup()"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True)
    assert out.returncode != 0
    assert b"RTC_ICE_SERVERS: credential not allowed" in out.stderr
