"""The metadata proxy: 169.254.169.254:80 inside a network's DHCP namespace.

Like Neutron's isolated-metadata proxy: the guest reaches it through the
classless static route DHCP hands out; the proxy adds who is asking (this
network + the guest's source address) and forwards to the API's metadata
service with the agent's service credential. The API answers only with the data
of the server that owns that address, so a guest can read nothing else.

It runs as its own detached process per network (``python -m
kumo.agent.metadata_proxy``, started by ``metadata_process.ProxyProcess``), so
guests keep getting answers while the agent restarts. The process sits in the
agent's namespace (it must reach the API) with its listening socket created in
the DHCP namespace; it reads the credential as JSON on stdin, writes its pidfile
(pid, and the identity of the namespace it listens in) once it is listening,
and keeps per-status request counts in ``<pidfile>.stats`` for the agent's metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from kumo.client import ApiClient
from kumo.drivers import netns
from kumo.model import network as nm

log = logging.getLogger("kumo.agent.metadata")
MAX_HEADER = 16384
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           500: "Internal Server Error", 502: "Bad Gateway"}


class MetadataProxy:
    """The HTTP side: one request per connection, forwarded to the API's /metadata."""

    def __init__(self, api: ApiClient, network_id: str, namespace: str, port: int = 80,
                 stats_file: Path | None = None) -> None:
        self.api = api
        self.network_id = network_id
        self.namespace = namespace
        self.port = port
        self.stats_file = stats_file
        self.server: asyncio.Server | None = None
        self.requests: Counter[str] = Counter()

    async def start(self) -> None:
        sock: socket.socket = await asyncio.to_thread(
            netns.listen_tcp, self.namespace, nm.METADATA_IP, self.port)
        self.server = await asyncio.start_server(self._serve, sock=sock)
        self._write_stats()
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
        self.requests[str(status)] += 1
        self._write_stats()
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

    def _write_stats(self) -> None:
        if self.stats_file is not None:
            write_atomic(self.stats_file, json.dumps(dict(self.requests)))


def write_atomic(target: Path, text: str) -> None:
    """tmp + rename, so a reader sees the old or the new text, never half of one."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, target)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m kumo.agent.metadata_proxy")
    p.add_argument("--network-id", required=True)
    p.add_argument("--netns", required=True)
    p.add_argument("--pidfile", required=True, type=Path)
    p.add_argument("--port", type=int, default=80)
    return p.parse_args(argv)


async def serve(args: argparse.Namespace, credentials: dict[str, Any]) -> None:
    """Listen, announce (pidfile), serve until SIGTERM/SIGINT."""
    api = ApiClient(credentials)
    stats = args.pidfile.with_name(args.pidfile.name + ".stats")
    proxy = MetadataProxy(api, args.network_id, args.netns, args.port, stats)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await proxy.start()
        ident = netns.identity(args.netns)
        write_atomic(args.pidfile, f"{os.getpid()}\n{ident[0]}:{ident[1]}\n" if ident else "")
        await stop.wait()
    finally:
        await proxy.close()
        await api.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    credentials = json.loads(sys.stdin.read())
    asyncio.run(serve(args, credentials))
    return 0


if __name__ == "__main__":
    sys.exit(main())
