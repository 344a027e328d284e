"""What runs on this host, reported for ``kumo doctor``: VMs, cached images, version.

Every few seconds the agent lists its compute driver's VMs (QEMU processes and their
power state as the driver sees them, not as the Servers say) and its image cache (size
and md5 of each file as it is on disk), and merges them into its ``AgentReport``. The
doctor compares them with the Servers and Images: a VM that died behind kumo's back, a
stray VM no server owns, a cached image changed after it was verified. The agent marks
a VM of no server it knows as stray itself: its Server cache is read just before its
VMs, so a just-deleted server's VM (destroyed before its finalizer goes) is never one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from kumo.client import ApiClient
from kumo.common.version import VERSION

from .host import write_report

log = logging.getLogger("kumo.agent.inventory")
INTERVAL = 5.0
REFRESH = 60.0  # rewrite an unchanged inventory this often, so its age means something
Obj = dict[str, Any]


class Inventory:
    def __init__(self, api: ApiClient, host: str, driver: Any, cache: Any,
                 known: Callable[[], set[str]], ready: asyncio.Event,
                 interval: float = INTERVAL) -> None:
        self.api, self.host, self.driver, self.cache = api, host, driver, cache
        self.known = known  # the ids of the servers the agent's cache holds now
        self.ready = ready  # set once the Server cache is listed (else all VMs look stray)
        self.interval = interval
        self._written: Obj | None = None
        self._written_at = 0.0

    async def collect(self) -> Obj:
        known = self.known()  # read before listing: a deleted server's VM is gone by then
        vms = [{"id": v.id, "power": str(v.power), "pid": v.pid, "stray": v.id not in known}
               for v in await self.driver.list_vms()]
        images = await asyncio.to_thread(self.cache.inventory)
        return {"vms": sorted(vms, key=lambda v: v["id"]), "images": images,
                "agentVersion": VERSION}

    async def report_once(self) -> bool:
        """Write the inventory when it changed (or every REFRESH seconds)."""
        inv = await self.collect()
        if inv == self._written and time.time() - self._written_at < REFRESH:
            return False
        if not await write_report(self.api, self.host, {**inv, "inventoryAt": time.time()},
                                  "inventory"):
            return False
        self._written, self._written_at = inv, time.time()
        return True

    async def run(self) -> None:
        await self.ready.wait()
        while True:
            try:
                await self.report_once()
            except Exception:  # noqa: BLE001 - the inventory must never stop the agent
                log.exception("inventory failed")
            await asyncio.sleep(self.interval)
