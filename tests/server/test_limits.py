"""Connection limits of a real ``kumo api``: header size, header and body timeouts,
connections per client address (``kumo.api.limits``).

Before: a 100 MB header was buffered whole (RSS +80 MB, never returned), half-sent
requests were held open forever, and one address could open any number of connections.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

import httpx

from tests.apiprocess import ApiProcess

MB = 1 << 20


def _connect(api: ApiProcess, source: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", api.port), timeout=10,
                                 source_address=(source, 0))
    return s


def _closed_by_server(s: socket.socket, wait: float) -> bool:
    """True when the server answered and/or closed the connection within ``wait``."""
    ready, _, _ = select.select([s], [], [], wait)
    if not ready:
        return False
    try:
        s.recv(65536)
    except OSError:
        return True
    return True


def test_huge_header_is_refused_and_memory_stays_flat(
        api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory()
    big = httpx.get(api.url + "/healthz", headers={"X-Fine": "a" * 32 * 1024}, timeout=10)
    assert big.status_code == 200  # a large but sane header still passes
    before = api.rss()
    s = _connect(api)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    chunk, sent, reply = b"a" * MB, 0, b""
    try:
        while sent < 100 * MB:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:  # refused mid-send: the server closed on us
        pass
    time.sleep(0.5)
    held = api.rss() - before  # while the header is (or would be) buffered
    try:
        s.sendall(b"\r\n\r\n")
        reply = s.recv(4096)
    except OSError:
        pass
    finally:
        s.close()
    assert sent < 100 * MB or reply.startswith(b"HTTP/1.1 431"), reply[:100]
    assert held < 20 * MB, f"RSS grew {held / MB:.1f} MB"
    time.sleep(0.5)
    assert api.rss() - before < 20 * MB
    assert httpx.get(api.url + "/healthz", timeout=5).status_code == 200


def test_431_for_a_head_over_the_limit(api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory("max_header_bytes=16384")
    r = httpx.get(api.url + "/healthz", headers={"X-Big": "a" * 20000}, timeout=10)
    assert r.status_code == 431


def test_body_bytes_read_with_the_head_are_not_header_bytes(
        api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory()
    body = b'{"auth": ' + b" " * 200_000 + b"1}"
    s = _connect(api)
    s.sendall(b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
              b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))  # one write
    reply = s.recv(4096)
    s.close()
    assert reply.startswith(b"HTTP/1.1 4") and not reply.startswith(b"HTTP/1.1 431"), reply


def test_slowloris_connections_are_dropped_and_healthz_answers(
        api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory("header_timeout=2", "body_timeout=2", "max_connections_per_client=0")
    heads, bodies = [], []
    for _ in range(500):
        s = _connect(api)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")  # never finished
        heads.append(s)
    for _ in range(20):
        s = _connect(api)
        s.sendall(b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  b"application/json\r\nContent-Length: 1000\r\n\r\n{\"auth\"")
        bodies.append(s)
    t0 = time.monotonic()
    with httpx.Client(timeout=5) as c:  # during the attack, other requests are answered
        for _ in range(10):
            assert c.get(api.url + "/healthz").status_code == 200
    assert time.monotonic() - t0 < 2
    deadline = time.monotonic() + 8
    open_ = heads + bodies
    while open_ and time.monotonic() < deadline:
        ready, _, _ = select.select(open_, [], [], 0.5)
        for s in ready:
            assert _closed_by_server(s, 0)
            open_.remove(s)
    assert not open_, f"{len(open_)} half-sent requests still held open"
    for s in heads + bodies:
        s.close()
    assert httpx.get(api.url + "/healthz", timeout=5).status_code == 200


def test_connections_per_client_are_capped(api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory("max_connections_per_client=10", "header_timeout=60")
    held = [_connect(api) for _ in range(10)]
    time.sleep(0.3)
    extra = _connect(api)
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    ready, _, _ = select.select([extra], [], [], 5)
    assert ready
    try:
        reply = extra.recv(4096)
    except OSError:
        reply = b""
    assert not reply.startswith(b"HTTP/1.1 200"), "the 11th connection was served"
    extra.close()
    other = _connect(api, source="127.0.0.2")  # another client is unaffected
    other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert other.recv(4096).startswith(b"HTTP/1.1 200")
    other.close()
    for s in held:
        s.close()
    time.sleep(0.3)
    assert httpx.get(api.url + "/healthz", timeout=5).status_code == 200  # freed again
