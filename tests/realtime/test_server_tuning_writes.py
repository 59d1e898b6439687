"""Twisted's TCP transport sends a write at once when nothing is waiting before it; the
rest (a full socket, a failed send, TLS, a closing transport) waits for the reactor
as before, in order."""

import socket

import pytest
from twisted.internet import main, tcp
from twisted.internet.protocol import Protocol

from coaching.realtime.server_tuning import write_immediately


class Reactor:
    """Records what a transport asks of its reactor (registrations, like a reactor's)."""

    def __init__(self) -> None:
        self.writers: list[object] = []

    def addWriter(self, fd: object) -> None:
        if fd not in self.writers:
            self.writers.append(fd)

    def removeWriter(self, fd: object) -> None:
        if fd in self.writers:
            self.writers.remove(fd)

    def addReader(self, fd: object) -> None:
        pass

    def removeReader(self, fd: object) -> None:
        pass


@pytest.fixture
def patched(monkeypatch):
    monkeypatch.setattr(tcp.Connection, "write", tcp.Connection.write)  # undone afterwards
    write_immediately()


@pytest.fixture
def pair(patched):
    ours, peer = socket.socketpair()
    reactor = Reactor()
    transport = tcp.Connection(ours, Protocol(), reactor=reactor)
    transport.connected = 1
    peer.settimeout(5)
    yield transport, peer, reactor
    ours.close()
    peer.close()


def receive(peer: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += peer.recv(size - len(data))
    return data


def flush(transport: tcp.Connection, peer: socket.socket, size: int) -> bytes:
    """Run the reactor's writes while the peer reads, until `size` bytes arrived."""
    data = b""
    while len(data) < size:
        if transport.dataBuffer or transport._tempDataLen:
            assert transport.doWrite() is None
        peer.setblocking(False)
        try:
            data += peer.recv(1 << 20)
        except BlockingIOError:
            pass
        finally:
            peer.setblocking(True)
    return data


def test_a_write_with_nothing_waiting_is_sent_without_the_reactor(pair):
    transport, peer, reactor = pair
    transport.write(b"hello")
    transport.write(" 안녕".encode())
    assert receive(peer, 12) == "hello 안녕".encode()
    assert reactor.writers == []
    assert not transport.dataBuffer and not transport._tempDataLen


def test_what_the_socket_does_not_take_waits_for_the_reactor_in_order(pair):
    transport, peer, reactor = pair
    big = bytes(range(256)) * (16 * 1024)  # 4 MiB: more than a socket buffer takes
    transport.write(big)
    assert reactor.writers == [transport]
    transport.write(b"after")  # must not jump the queue
    assert flush(transport, peer, len(big) + 5) == big + b"after"
    assert reactor.writers == []  # the reactor stopped writing once all was out
    transport.write(b"again")
    assert receive(peer, 5) == b"again"
    assert reactor.writers == []


def test_a_failed_send_is_left_to_the_reactor(pair, monkeypatch):
    transport, _peer, reactor = pair
    monkeypatch.setattr(transport, "writeSomeData", lambda data: main.CONNECTION_LOST)
    transport.write(b"lost?")
    assert transport._tempDataBuffer == [b"lost?"]
    assert reactor.writers == [transport]


@pytest.mark.parametrize("state", ["disconnecting", "_writeDisconnecting"])
def test_closing_transports_keep_twisteds_buffering(pair, state):
    transport, _peer, reactor = pair
    setattr(transport, state, True)
    transport.write(b"later")
    assert transport._tempDataBuffer == [b"later"]
    assert reactor.writers == [transport]


def test_tls_transports_write_through_tls(pair):
    transport, peer, _reactor = pair
    written = []
    transport.TLS = True
    transport.protocol.write = written.append  # the TLS layer, which encrypts
    transport.write(b"secret")
    assert written == [b"secret"]
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(10)  # nothing went out in the clear


def test_a_closed_transport_writes_nothing(pair):
    transport, _peer, reactor = pair
    transport.connected = 0
    transport.write(b"nobody")
    assert not transport._tempDataBuffer and reactor.writers == []
