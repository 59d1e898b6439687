"""Language and time zone: Korean first, English too, one time zone setting."""

import os
import subprocess
import sys

from django.conf import settings
from django.test import Client

from tests.support.servers import ROOT


def setting_in_a_fresh_process(name: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "TIME_ZONE"}
    environment.update(env, DJANGO_SETTINGS_MODULE="inswing_realtime.settings")
    code = f"from django.conf import settings; print(settings.{name})"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    return out.stdout.strip()


def test_time_zone_is_seoul_unless_set():
    assert setting_in_a_fresh_process("TIME_ZONE") == "Asia/Seoul"
    assert setting_in_a_fresh_process("TIME_ZONE", TIME_ZONE="UTC") == "UTC"


def test_korean_first_english_too():
    assert settings.LANGUAGE_CODE == "ko"
    assert [code for code, _ in settings.LANGUAGES] == ["ko", "en"]


def test_pages_follow_the_browsers_language_and_default_to_korean(db):
    assert Client().get("/login/").headers["Content-Language"] == "ko"
    english = Client(headers={"accept-language": "en-US,en;q=0.9"}).get("/login/")
    assert english.headers["Content-Language"] == "en"


def test_the_language_switch_persists_in_a_cookie(db):
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert client.get("/login/").headers["Content-Language"] == "en"


def test_the_javascript_catalog_is_served(db):
    response = Client().get("/jsi18n/")
    assert response.status_code == 200
    assert "gettext" in response.content.decode()
