"""autobahn's debug log arguments are formatted only when a line is logged, and read
the same when it is."""

import pprint

import pytest
from autobahn import util
from autobahn.twisted import websocket
from autobahn.websocket import protocol

from coaching.realtime.server_tuning import defer_autobahn_debug_formatting


@pytest.fixture
def deferred(monkeypatch):
    monkeypatch.setattr(protocol, "pformat", pprint.pformat)
    for module in (protocol, websocket):
        monkeypatch.setattr(module, "hltype", util.hltype)
        monkeypatch.setattr(module, "hlval", util.hlval)
    defer_autobahn_debug_formatting()


def test_the_config_dump_still_reads_the_same_when_logged(deferred):
    config = [("openHandshakeTimeout", 5, "WebSocketServerFactory")]
    dump = protocol.pformat(config)
    assert not isinstance(dump, str)
    assert f"\n{dump}" == "\n" + pprint.pformat(config)


@pytest.mark.parametrize("module", [protocol, websocket], ids=["protocol", "twisted"])
def test_names_and_values_in_frame_logs_are_colored_only_when_logged(deferred, module):
    def sendData() -> None: ...

    name, value = module.hltype(sendData), module.hlval(42, color="green")
    assert not isinstance(name, str) and not isinstance(value, str)
    assert f"{name} sent {value}" == (
        f"{util.hltype(sendData)} sent {util.hlval(42, color='green')}"
    )
