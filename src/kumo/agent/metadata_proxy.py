"""The metadata proxy: 169.254.169.254:80 inside a network's DHCP namespace.

Like Neutron's isolated-metadata proxy: the guest reaches it through the
classless static route DHCP hands out; the proxy adds who is asking (this
network + the guest's source address) and forwards to the API's metadata
service with the agent's service token. The API answers only with the data of
the server that owns that address, so a guest can read nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from kumo.client import ApiClient
from kumo.drivers import netns
from kumo.model import network as nm
from kumo.observe import metrics

log = logging.getLogger("kumo.agent.metadata")
MAX_HEADER = 16384
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           500: "Internal Server Error", 502: "Bad Gateway"}


class MetadataProxy:
    def __init__(self, api: ApiClient, host: str, network_id: str, namespace: str,
                 port: int = 80) -> None:
        self.api = api
        self.host = host
        self.network_id = network_id
        self.namespace = namespace
        self.port = port
        self.server: asyncio.Server | None = None
        self.requests = 0

    async def ensure(self) -> None:
        if self.server is not None:
            return
        sock: socket.socket = await asyncio.to_thread(
            netns.listen_tcp, self.namespace, nm.METADATA_IP, self.port)
        self.server = await asyncio.start_server(self._serve, sock=sock)
        log.info("metadata proxy for network %s listening in %s", self.network_id,
                 self.namespace)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status, body, ctype = 500, b"", "text/plain"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            if len(head) > MAX_HEADER:
                raise ValueError("header too large")
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, target, _ = line.split(" ", 2)
            peer = writer.get_extra_info("peername")[0]
            if method not in ("GET", "HEAD"):
                status, body = 405, b"only GET\n"
            else:
                status, body, ctype = await self._forward(target, peer)
                if method == "HEAD":
                    body = b""
        except (ValueError, asyncio.IncompleteReadError, TimeoutError,
                asyncio.LimitOverrunError):
            status, body = 400, b"bad request\n"
        except Exception as exc:  # the guest gets a 502, the log gets why
            log.warning("metadata proxy error: %s", exc)
            status, body = 502, b"metadata service unavailable\n"
        self.requests += 1
        metrics.METADATA_REQUESTS.labels(self.host, str(status)).inc()
        try:
            writer.write(f"HTTP/1.0 {status} {REASONS.get(status, 'Error')}\r\n"
                         f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        finally:
            writer.close()

    async def _forward(self, target: str, peer: str) -> tuple[int, bytes, str]:
        path = target.split("?", 1)[0]
        if not path.startswith("/"):
            return 400, b"bad path\n", "text/plain"
        headers: dict[str, Any] = {"X-Kumo-Network-Id": self.network_id,
                                   "X-Forwarded-For": peer}
        r = await self.api.request("GET", self.api.base + "/metadata" + path, headers=headers)
        return r.status_code, r.content, r.headers.get("content-type", "text/plain")
