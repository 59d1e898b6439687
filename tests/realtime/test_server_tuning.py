"""autobahn's per-connection config dump is formatted only when the line is logged."""

import pprint

from autobahn.websocket import protocol

from coaching.realtime.server_tuning import defer_autobahn_config_log


def test_the_config_dump_still_reads_the_same_when_logged(monkeypatch):
    monkeypatch.setattr(protocol, "pformat", pprint.pformat)
    defer_autobahn_config_log()
    config = [("openHandshakeTimeout", 5, "WebSocketServerFactory")]
    deferred = protocol.pformat(config)
    assert not isinstance(deferred, str)
    assert f"\n{deferred}" == "\n" + pprint.pformat(config)
