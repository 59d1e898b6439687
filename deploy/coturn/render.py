"""Renders turnserver.conf.template beside this file: the one coturn configuration of
docker-compose's `turn` service (the Dockerfile's `turn` stage runs this script when the
container starts) and of `make cluster` (inswing_realtime/cluster.py).

    python3 deploy/coturn/render.py [-o PATH]

reads the environment (the container's); `--probe` instead sends coturn a STUN Binding
request on TURN_PORT (exit 0 when it answers: the container's healthcheck).

    RTC_TURN_SECRET          the secret shared with the app, which mints the
                             credentials (required)
    TURN_REALM               the realm (default inswing)
    TURN_LISTENING_IP        address coturn listens and relays on (default 0.0.0.0)
    TURN_PORT                STUN/TURN port, UDP and TCP (default 3478)
    TURN_EXTERNAL_IP         the public address clients reach, when coturn is behind NAT
                             (a container): `public` or `public/private`
    TURN_MIN_PORT, TURN_MAX_PORT
                             the relayed addresses' UDP ports (default 49160-49200)
    TURN_TLS_CERTIFICATE     with TURN_TLS_CERTIFICATE_KEY: turns: on TURN_TLS_PORT
    TURN_TLS_CERTIFICATE_KEY (default 5349), from these PEM files
    TURN_ALLOW_PRIVATE_PEERS 1: relay to private and loopback addresses too (a test
                             network or one machine; never on the internet)

Standard library only: the turn image has Python but not the app.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import socket
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).with_name("turnserver.conf.template")
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Peers a relay never reaches unless TURN_ALLOW_PRIVATE_PEERS: this host, private and
# link-local networks, carrier-grade NAT, multicast and the reserved ranges.
DENIED_PEERS = (
    "0.0.0.0-0.255.255.255",
    "10.0.0.0-10.255.255.255",
    "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255",
    "169.254.0.0-169.254.255.255",
    "172.16.0.0-172.31.255.255",
    "192.0.0.0-192.0.0.255",
    "192.168.0.0-192.168.255.255",
    "198.18.0.0-198.19.255.255",
    "224.0.0.0-255.255.255.255",
    "::1",
    "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
)


class ConfigError(ValueError):
    """The values cannot make a working configuration (the message says why)."""


@dataclass
class Turn:
    """What differs between the container and `make cluster`; the rest is the template."""

    secret: str
    realm: str = "inswing"
    listening_ip: str = "0.0.0.0"
    port: int = 3478
    external_ip: str = ""
    min_port: int = 49160
    max_port: int = 49200
    tls_certificate: str = ""
    tls_certificate_key: str = ""
    tls_port: int = 5349
    allow_private_peers: bool = False
    user_quota: int = 10
    total_quota: int = 1000
    log_file: str = "stdout"
    pid_file: str = "/var/tmp/turnserver.pid"


def _port(name: str, value: int) -> int:
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name}: a port, 1-65535, not {value}")
    return value


def _address(name: str, value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(f"{name}: an IP address, not {value!r}") from None
    return value


def _external_ip(turn: Turn) -> str:
    if not turn.external_ip:
        return ""
    for part in turn.external_ip.split("/"):
        _address("TURN_EXTERNAL_IP", part)
    return f"external-ip={turn.external_ip}"


def _tls(turn: Turn) -> str:
    if bool(turn.tls_certificate) != bool(turn.tls_certificate_key):
        raise ConfigError("TLS needs both TURN_TLS_CERTIFICATE and TURN_TLS_CERTIFICATE_KEY")
    if not turn.tls_certificate:
        return "no-tls\nno-dtls"
    return "\n".join(
        [
            f"tls-listening-port={_port('TURN_TLS_PORT', turn.tls_port)}",
            f"cert={turn.tls_certificate}",
            f"pkey={turn.tls_certificate_key}",
            "no-tlsv1",
            "no-tlsv1_1",
        ]
    )


def _denied_peers(turn: Turn) -> str:
    if turn.allow_private_peers:
        return "allow-loopback-peers"
    return "\n".join(f"denied-peer-ip={peer}" for peer in DENIED_PEERS)


def render(turn: Turn) -> str:
    if not turn.secret:
        raise ConfigError("no shared secret (RTC_TURN_SECRET)")
    if any(c.isspace() for c in turn.secret) or any(c.isspace() for c in turn.realm):
        raise ConfigError("RTC_TURN_SECRET and TURN_REALM cannot hold spaces")
    if not _port("TURN_MIN_PORT", turn.min_port) <= _port("TURN_MAX_PORT", turn.max_port):
        raise ConfigError("TURN_MIN_PORT is above TURN_MAX_PORT")
    values = {
        "SECRET": turn.secret,
        "REALM": turn.realm,
        "LISTENING_IP": _address("TURN_LISTENING_IP", turn.listening_ip),
        "PORT": str(_port("TURN_PORT", turn.port)),
        "EXTERNAL_IP": _external_ip(turn),
        "MIN_PORT": str(turn.min_port),
        "MAX_PORT": str(turn.max_port),
        "TLS": _tls(turn),
        "DENIED_PEERS": _denied_peers(turn),
        "USER_QUOTA": str(turn.user_quota),
        "TOTAL_QUOTA": str(turn.total_quota),
        "LOG_FILE": turn.log_file,
        "PID_FILE": turn.pid_file,
    }
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], TEMPLATE.read_text())


def _int(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name) or str(default)
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}: a number, not {value!r}") from None


def from_environment(env: dict[str, str]) -> Turn:
    return Turn(
        secret=env.get("RTC_TURN_SECRET", ""),
        realm=env.get("TURN_REALM") or "inswing",
        listening_ip=env.get("TURN_LISTENING_IP") or "0.0.0.0",
        port=_int(env, "TURN_PORT", 3478),
        external_ip=env.get("TURN_EXTERNAL_IP", ""),
        min_port=_int(env, "TURN_MIN_PORT", 49160),
        max_port=_int(env, "TURN_MAX_PORT", 49200),
        tls_certificate=env.get("TURN_TLS_CERTIFICATE", ""),
        tls_certificate_key=env.get("TURN_TLS_CERTIFICATE_KEY", ""),
        tls_port=_int(env, "TURN_TLS_PORT", 5349),
        allow_private_peers=env.get("TURN_ALLOW_PRIVATE_PEERS", "") in {"1", "true", "yes"},
    )


def stun_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a STUN server answers a Binding request (RFC 8489) on `host:port` (UDP)."""
    transaction = os.urandom(12)
    request = struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, transaction)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, (host, port))
            answer = sock.recv(2048)
        except OSError:
            return False
    return answer[:2] == b"\x01\x01" and answer[8:20] == transaction


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", help="write here (default: stdout)")
    parser.add_argument("--probe", action="store_true", help="ask the running coturn")
    args = parser.parse_args()
    if args.probe:
        port = _int(dict(os.environ), "TURN_PORT", 3478)
        return 0 if stun_answers("127.0.0.1", port) else 1
    try:
        config = render(from_environment(dict(os.environ)))
    except ConfigError as exc:
        print(f"deploy/coturn/render.py: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(config)
    else:
        sys.stdout.write(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
