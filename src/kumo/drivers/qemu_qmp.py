"""QMP connections, one per VM, kept open and re-opened when QEMU went away.

A QMP socket serves one client at a time, so connections are cached and
released on close(); every qemu.qmp error becomes ControlFailed here. The
socket is reached through /proc/self/fd/<dir fd>/, so the length of the
state directory never hits the 108-byte limit of unix socket paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from qemu.qmp import ExecInterruptedError, QMPClient, QMPError, Runstate

from kumo.drivers.compute import ControlFailed

log = logging.getLogger(__name__)


class Monitors:
    """Cached QMP clients keyed by VM id."""

    def __init__(self, connect_timeout: float = 2.0, command_timeout: float = 10.0):
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._clients: dict[str, QMPClient] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def execute(
        self, vm_id: str, sock: Path, cmd: str, args: dict[str, Any] | None = None
    ) -> Any:
        """Run one QMP command; ControlFailed on any failure (the connection is dropped)."""
        try:
            client = await self._client(vm_id, sock)
            return await asyncio.wait_for(client.execute(cmd, args), self.command_timeout)
        except ExecInterruptedError as e:
            await self.drop(vm_id)
            raise ControlFailed(f"QEMU of {vm_id} hung up during {cmd}") from e
        except (QMPError, OSError, EOFError, TimeoutError) as e:
            await self.drop(vm_id)
            raise ControlFailed(f"QMP {cmd} on {vm_id} failed: {e!r}") from e

    async def connect(self, vm_id: str, sock: Path) -> None:
        """Open (or reuse) the connection; raises ControlFailed if QEMU does not answer."""
        try:
            await self._client(vm_id, sock)
        except (QMPError, OSError, EOFError, TimeoutError) as e:
            raise ControlFailed(f"QMP connect to {vm_id} failed: {e!r}") from e

    async def drop(self, vm_id: str) -> None:
        client = self._clients.pop(vm_id, None)
        if client is not None:
            await _disconnect(client)

    async def close(self) -> None:
        for vm_id in list(self._clients):
            await self.drop(vm_id)
        self._locks.clear()

    async def _client(self, vm_id: str, sock: Path) -> QMPClient:
        async with self._locks.setdefault(vm_id, asyncio.Lock()):
            client = self._clients.get(vm_id)
            if client is not None and client.runstate == Runstate.RUNNING:
                return client
            await self.drop(vm_id)
            client = QMPClient(vm_id[:8])
            client.logger = log
            try:
                await asyncio.wait_for(_connect(client, sock), self.connect_timeout)
            except BaseException:
                await _disconnect(client)
                raise
            self._clients[vm_id] = client
            return client


async def _connect(client: QMPClient, sock: Path) -> None:
    dir_fd = os.open(sock.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        await client.connect(f"/proc/self/fd/{dir_fd}/{sock.name}")
    finally:
        os.close(dir_fd)


async def _disconnect(client: QMPClient) -> None:
    # disconnect() re-raises whatever ended the session (EOF when QEMU quit).
    with contextlib.suppress(Exception):
        await client.disconnect()
