"""Connection-level limits uvicorn lacks: header size, header and body read timeouts,
connections per client address.

uvicorn's httptools protocol buffers a header of any size (a 100 MB header was accepted
and its memory never returned) and waits forever for the rest of a half-sent request
(500 such connections were held open indefinitely). ``guarded_protocol`` returns a
subclass that counts the bytes of each request head and answers 431 past
``max_header_bytes``, answers 408 and closes when a head takes longer than
``header_timeout`` or a body stalls for ``body_timeout`` (while the app is not the one
holding it back), and closes connections beyond ``max_connections_per_client`` from one
address at once. Everything stays inside the server process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("kumo.limits")

_REASONS = {400: b"Bad Request", 408: b"Request Timeout",
            431: b"Request Header Fields Too Large"}


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections_per_client: int = 1024  # 0: no cap


class GuardedProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with limits; ``limits`` and ``per_client`` are set per server."""

    limits: Limits = Limits()
    per_client: Counter[str] = Counter()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True
        self._head_bytes = self._parsed_head = 0
        self._timer: asyncio.TimerHandle | None = None
        self._peer = self.client[0] if self.client else ""
        cap = self.limits.max_connections_per_client
        self._counted = not cap or self.per_client[self._peer] < cap
        if not self._counted:
            log.warning("refused a connection from %s: %d open", self._peer, cap)
            self.transport.close()
            return
        self.per_client[self._peer] += 1
        self._arm(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted:
            self._counted = False
            self.per_client[self._peer] -= 1
            if self.per_client[self._peer] <= 0:
                del self.per_client[self._peer]
        super().connection_lost(exc)

    # ---- timers ----------------------------------------------------------
    def _arm(self, seconds: float, callback: object) -> None:
        self._disarm()
        if seconds > 0:
            self._timer = self.loop.call_later(seconds, callback)  # type: ignore[arg-type]

    def _disarm(self) -> None:
        if getattr(self, "_timer", None) is not None:
            self._timer.cancel()  # type: ignore[union-attr]
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._head_bytes:
            self._reject(408, "Request header timeout.")
        elif not self.transport.is_closing():
            self.transport.close()  # connected and said nothing

    def _body_timed_out(self) -> None:
        self._timer = None
        if self.flow.read_paused and not self.cycle.response_complete:
            self._arm(self.limits.body_timeout, self._body_timed_out)  # the app holds it back
            return
        log.warning("closing a connection from %s: request body stalled", self._peer)
        if not self.cycle.response_started:
            self._reject(408, "Request body timeout.")
        else:
            self.transport.close()

    # ---- parsing ---------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._in_head:
            if not self._head_bytes and self._timer is None:
                self._arm(self.limits.header_timeout, self._head_timed_out)
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._parsed_head > self.limits.max_header_bytes:
                self._reject(431, "Request header fields too large.")
            else:
                self._reject(400, "Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._reject(431, "Request header fields too large.")

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._count_head(len(name) + len(value) + 4)

    def _count_head(self, n: int) -> None:
        """The head as parsed (``_head_bytes`` may include body bytes of the same read)."""
        self._parsed_head += n
        if self._parsed_head > self.limits.max_header_bytes:
            self._head_bytes = self._parsed_head
            raise ValueError("header too large")  # stops the parser: answered 431

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()
        self._arm(self.limits.body_timeout, self._body_timed_out)  # until the message completes

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._timer is not None:
            self._arm(self.limits.body_timeout, self._body_timed_out)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._in_head = True  # whatever follows is the next request's head
        self._head_bytes = self._parsed_head = 0

    def _reject(self, status: int, msg: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        body = msg.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS.get(status, b"Error"), len(body), body))
        self.transport.close()


def guarded_protocol(limits: Limits) -> type[GuardedProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with its own limits and counts."""
    return type("GuardedHttpProtocol", (GuardedProtocol,),
                {"limits": limits, "per_client": Counter()})
