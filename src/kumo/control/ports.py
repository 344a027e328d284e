"""Port releaser: ports whose server is gone (or no longer lists them) are released.

Level-triggered and crash-safe: a port made for a server (``autoDelete``) is
deleted, a port the tenant brought is unbound (device, owner and host cleared,
status DOWN). A grace period after the port was bound covers the moments in
which the compute facade has made a port but not yet written the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kumo import store
from kumo.common.clock import epoch
from kumo.common.informer import Informer
from kumo.common.reconciler import Controller, Requeue
from kumo.core import ports as core_ports
from kumo.model import compute as cm
from kumo.model import network as nm

from .plane import ControlPlane

log = logging.getLogger("kumo.control.ports")
GRACE_SECONDS = 30.0
SWEEP_SECONDS = 30.0
Obj = dict[str, Any]


class PortReleaser:
    def __init__(self, rt: Any, grace: float = GRACE_SECONDS) -> None:
        self.rt = rt
        self.objects: store.ObjectStore = rt.objects
        self.grace = grace
        self.controller = Controller("port-releaser", self.reconcile, workers=2)
        self.released = 0
        # servers seen deleted: their ports need no grace (the grace covers a server that
        # is not written yet, not one that is gone); pruned after a grace period
        self.deleted: dict[tuple[str, str], float] = {}
        self.ports = Informer(store.StoreSource(self.objects, nm.PORT), on_event=self._on_port)
        self.servers = Informer(store.StoreSource(self.objects, cm.SERVER),
                                on_event=self._on_server)

    async def reconcile(self, key: tuple[str, str]) -> Requeue | None:
        ns, name = key
        port = await self.objects.try_get(nm.PORT, ns, name)
        if port is None:
            return None
        spec = port["spec"]
        device = spec.get("deviceId")
        if not device or not str(spec.get("deviceOwner", "")).startswith(
                nm.COMPUTE_OWNER_PREFIX):
            return None
        server = await self.objects.try_get(cm.SERVER, ns, device)
        if server is not None and name in (server["spec"].get("ports") or []):
            return None
        md = port["metadata"]
        bound = max(epoch(md.get("creationTimestamp")),
                    epoch((md.get("annotations") or {}).get(core_ports.BOUND_AT)))
        wait = bound + self.grace - time.time()
        if wait > 0 and (ns, device) not in self.deleted:
            return Requeue(wait + 0.1)
        await core_ports.release(self.objects, port)
        self.released += 1
        log.info("released port %s/%s of server %s", ns, name, device)
        return None

    def _on_port(self, typ: str, obj: Obj) -> None:
        if typ != "DELETED" and obj["spec"].get("deviceId"):
            md = obj["metadata"]
            self.controller.enqueue((md["namespace"], md["name"]))

    async def _on_server(self, typ: str, obj: Obj) -> None:
        if typ != "DELETED":
            return  # detaches are released by the facade; this is for deletes
        md = obj["metadata"]
        now = time.time()
        self.deleted = {k: t for k, t in self.deleted.items() if now - t < self.grace}
        self.deleted[(md["namespace"], md["name"])] = now
        found = await self.objects.list(nm.PORT, md["namespace"],
                                        label_selector=f"{nm.DEVICE_LABEL}={md['name']}")
        for port in found.items:
            self.controller.enqueue((md["namespace"], port["metadata"]["name"]))

    async def _sweep(self) -> None:
        """Level-triggered safety net: every bound port is looked at again."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for obj in self.ports.values():
                self._on_port("ADDED", obj)

    async def run(self) -> None:
        await asyncio.gather(self.controller.run(), self._sweep(), self.ports.run(),
                             self.servers.run())

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "released": self.released,
                "informers": [self.ports.debug_state(), self.servers.debug_state()]}


async def run(rt: ControlPlane) -> None:
    releaser = PortReleaser(rt)
    rt.debug_providers["port_releaser"] = releaser.debug_state
    await releaser.run()
