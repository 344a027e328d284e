"""Start, adopt and stop one network's metadata proxy process.

The proxy (metadata_proxy.py) is a detached process in its own session, so it
keeps answering guests while the agent is down. A restarted agent adopts it
from its pidfile (``<dhcp dir>/<network id>/metadata-proxy.pid``) after
checking /proc: the command line must be exactly the one we would start now,
and the namespace it listens in must still be the one bound under that name
(a namespace deleted and re-created is a new one, so the proxy is restarted).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kumo.drivers import netns, procs

log = logging.getLogger("kumo.agent.metadata")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
_POLL = 0.05
MODULE = "kumo.agent.metadata_proxy"


class ProxyProcess:
    """One network's proxy: `ensure` converges (start, adopt or restart), `stop` ends it."""

    def __init__(self, credentials: Mapping[str, Any], network_id: str, namespace: str,
                 directory: Path, port: int = 80, python: str = sys.executable) -> None:
        self.credentials = dict(credentials)
        self.network_id = network_id
        self.namespace = namespace
        self.port = port
        self.python = python
        self.dir = Path(directory).absolute()
        self.pidfile = self.dir / "metadata-proxy.pid"
        self.stats_file = self.dir / "metadata-proxy.pid.stats"
        self.log_file = self.dir / "metadata-proxy.log"
        self._lock = asyncio.Lock()

    def argv(self) -> list[str]:
        return [self.python, "-m", MODULE, "--network-id", self.network_id,
                "--netns", self.namespace, "--pidfile", str(self.pidfile),
                "--port", str(self.port)]

    def pid(self) -> int | None:
        """The running proxy of this network, listening in the current namespace."""
        pid = procs.read_pid(self.pidfile)
        if pid is None or not self._is_ours(pid):
            return None
        try:
            recorded = self.pidfile.read_text().split("\n")[1]
        except (OSError, IndexError):
            return None
        ident = netns.identity(self.namespace)
        return pid if ident is not None and recorded == f"{ident[0]}:{ident[1]}" else None

    async def ensure(self) -> str:
        """Converge; returns "unchanged" (running or adopted), "started" or "restarted"."""
        async with self._lock:
            if self.pid() is not None:
                return "unchanged"
            stale = procs.read_pid(self.pidfile)
            had_pidfile = self.pidfile.exists()
            if stale is not None:
                await procs.terminate(stale, self._is_ours, STOP_TIMEOUT, "metadata proxy")
            await self._start()
            return "restarted" if had_pidfile else "started"

    async def stop(self) -> None:
        """Stop the proxy (TERM, then KILL); a no-op when it is not running."""
        async with self._lock:
            pid = procs.read_pid(self.pidfile)
            if pid is not None:
                await procs.terminate(pid, self._is_ours, STOP_TIMEOUT, "metadata proxy")
            self.pidfile.unlink(missing_ok=True)

    def requests(self) -> dict[str, int]:
        """Requests served by the running proxy, by HTTP status (since it started)."""
        try:
            return {str(k): int(v) for k, v in json.loads(self.stats_file.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _is_ours(self, pid: int) -> bool:
        return procs.cmdline(pid) == self.argv()

    async def _start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        self.stats_file.unlink(missing_ok=True)
        proc = procs.spawn_detached(self.argv(), self.log_file,
                                    json.dumps(self.credentials).encode())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while self.pid() != proc.pid:
            if proc.poll() is not None:
                raise procs.ProcessError(f"metadata proxy for {self.network_id} exited "
                                         f"({proc.returncode}): {self._log_tail()}")
            if loop.time() >= deadline:
                proc.kill()
                proc.wait()
                raise procs.ProcessError(f"metadata proxy for {self.network_id} not listening "
                                         f"within {START_TIMEOUT:.0f}s: {self._log_tail()}")
            await asyncio.sleep(_POLL)
        log.info("metadata proxy for network %s started in %s (pid %d)", self.network_id,
                 self.namespace, proc.pid)

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return ""
