"""The host's authoritative DNS server, a secondary of kumo's zone-transfer source.

It is started if missing, adopted if it outlived the agent (pidfile), and restarted when
it dies; its configuration never changes with the zones (the catalog zone carries them),
so a restart is the only thing this loop ever does to it. Its address is kept from run to
run (read back from its configuration), so the controller's target stays valid.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Callable
from pathlib import Path

from kumo.drivers import knot
from kumo.observe import metrics

log = logging.getLogger(__name__)
RESTARTS = metrics.Counter("kumo_dns_server_restarts_total",
                           "authoritative DNS server (re)starts by the agent",
                           registry=metrics.REGISTRY)
CHECK_EVERY = 1.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def kept_listen(run_dir: Path) -> tuple[str, int] | None:
    """The address of an earlier run (so an adopted or restarted server keeps it)."""
    try:
        text = (run_dir / "knot.conf").read_text()
    except OSError:
        return None
    m = re.search(r"^\s*listen: ([0-9.]+)@([0-9]+)$", text, re.M)
    return (m.group(1), int(m.group(2))) if m else None


def secondary(run_dir: Path, primary: tuple[str, int], key: tuple[str, str],
              host: str = "127.0.0.1") -> knot.Secondary:
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    listen = kept_listen(run_dir) or (host, free_port(host))
    return knot.Secondary(run_dir, listen, primary, key[0], key[1])


async def supervise(sec: knot.Secondary, on_start: Callable[[int], None] | None = None,
                    every: float = CHECK_EVERY, die_with_parent: bool = False) -> None:
    """Keep the server running until cancelled (``die_with_parent``: it ends with this
    process, else it outlives us and is adopted by pidfile)."""
    knot.write_config(sec)
    while True:
        if knot.pid(sec) is None:
            pid = knot.start(sec, die_with_parent=die_with_parent)
            RESTARTS.inc()
            log.info("knotd started (pid %d) on %s:%d", pid, *sec.listen)
            if on_start is not None:
                on_start(pid)
            await _wait_pidfile(sec)
        await asyncio.sleep(every)


async def _wait_pidfile(sec: knot.Secondary, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while knot.pid(sec) is None and loop.time() < deadline:
        await asyncio.sleep(0.05)
