"""A Phoenix V1 client (npm `phoenix-channels`, vsn=1.0.0) works against the server:
connect, join, push chat, receive the broadcast, heartbeat."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from coaching.models import ChatMessage
from tests.support.auth import token_for
from tests.support.servers import ROOT

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).resolve().parent / "js" / "v1_client.mjs"
NODE = shutil.which("node")
if NODE is None:
    pytest.skip("node is not installed", allow_module_level=True)
if not (ROOT / "node_modules/phoenix-channels/package.json").exists():
    pytest.skip(
        "node_modules/phoenix-channels is missing (run npm install)", allow_module_level=True
    )


def test_a_v1_client_joins_chats_receives_broadcasts_and_heartbeats(
    server, student, active_session
):
    config = {
        "endpoint": f"ws://127.0.0.1:{server.port}/socket",
        "token": token_for(student),
        "topic": active_session.topic,
    }
    result = subprocess.run(
        [NODE, str(SCRIPT)],
        cwd=ROOT,
        env={**os.environ, "PHX_V1": json.dumps(config)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert not seen.get("timeout"), (seen, result.stderr)
    assert seen["errors"] == []
    assert seen["join"] == {"status": "ok", "you": seen["join"]["you"]}
    assert seen["join"]["you"]["id"] == str(student.pk)
    assert seen["push"]["status"] == "ok"
    assert seen["push"]["reply"]["message"]["message"] == "hello from V1"
    assert seen["broadcast"]["message"] == "hello from V1"
    assert seen["heartbeats"] >= 2
    # Every frame it read was a V1 object frame.
    assert all(set(f) >= {"topic", "event", "payload", "ref"} for f in seen["frames"])
    assert ChatMessage.objects.get().client_msg_id == "v1-1"
