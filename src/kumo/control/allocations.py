"""Allocation collector: address and MAC claims whose port never came (or went).

A port create claims its MAC and addresses (creating MacAllocation/IPAllocation
records) before it writes the Port; a crash in between (kill -9, power loss) leaves
records that hold an address forever. This controller deletes every allocation
whose port does not exist, or no longer holds that address or MAC, once the record
is older than a grace period: an in-flight create or update (claims made, port not
yet written) is never hit. Each deletion re-reads the port first and carries the
record's resourceVersion, so a record re-claimed meanwhile is left alone.

Runs a sweep at start (after a restart the crash's leftovers go at once, if older
than the grace) and every ``SWEEP_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kumo import store
from kumo.common.clock import epoch
from kumo.model import network as nm

from .plane import ControlPlane

log = logging.getLogger("kumo.control.allocations")
GRACE_SECONDS = 60.0
SWEEP_SECONDS = 60.0
Obj = dict[str, Any]
KINDS = (nm.IP_ALLOCATION, nm.MAC_ALLOCATION)


def _held(port: Obj | None, alloc: Obj) -> bool:
    """Does ``port`` hold the address or MAC of ``alloc``?"""
    if port is None:
        return False
    spec, want = port["spec"], alloc["spec"]
    if alloc["kind"] == nm.MAC_ALLOCATION:
        return str(spec.get("macAddress", "")).lower() == str(want.get("macAddress")).lower()
    return any(f.get("subnetId") == want.get("subnetId") and
               f.get("ipAddress") == want.get("ipAddress") for f in spec.get("fixedIps") or [])


class AllocationCollector:
    def __init__(self, objects: store.ObjectStore, grace: float = GRACE_SECONDS,
                 interval: float = SWEEP_SECONDS) -> None:
        self.objects = objects
        self.grace = grace
        self.interval = interval
        self.collected = 0
        self.sweeps = 0

    async def _orphan(self, alloc: Obj, ports: dict[tuple[str, str], Obj], now: float) -> bool:
        spec = alloc["spec"]
        key = (spec.get("project") or "", spec.get("portId") or "")
        if _held(ports.get(key), alloc):
            return False
        if epoch(alloc["metadata"].get("creationTimestamp")) + self.grace > now:
            return False  # maybe a create or update in flight
        return not _held(await self.objects.try_get(nm.PORT, *key), alloc)

    async def collect(self) -> int:
        """One sweep: delete orphans older than the grace; how many went."""
        now = time.time()
        allocs = [a for kind in KINDS for a in (await self.objects.list(kind, None)).items]
        ports = {(p["metadata"]["namespace"], p["metadata"]["name"]): p
                 for p in (await self.objects.list(nm.PORT, None)).items}
        gone = 0
        for alloc in allocs:
            if not await self._orphan(alloc, ports, now):
                continue
            md = alloc["metadata"]
            try:
                await self.objects.delete(alloc["kind"], "", md["name"],
                                          expected_rv=int(md["resourceVersion"]))
            except (store.NotFound, store.Conflict):
                continue
            gone += 1
            log.info("collected %s %s: port %s does not hold it", alloc["kind"], md["name"],
                     alloc["spec"].get("portId"))
        self.collected += gone
        self.sweeps += 1
        return gone

    async def run(self) -> None:
        while True:
            try:
                await self.collect()
            except store.StoreError:
                log.exception("allocation sweep failed")
            await asyncio.sleep(self.interval)

    def debug_state(self) -> dict[str, Any]:
        return {"collected": self.collected, "sweeps": self.sweeps, "grace": self.grace}


async def run(rt: ControlPlane) -> None:
    collector = AllocationCollector(rt.objects)
    rt.debug_providers["allocation_collector"] = collector.debug_state
    await collector.run()
