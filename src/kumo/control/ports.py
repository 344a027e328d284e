"""Port releaser: ports whose server is gone (or no longer lists them) are released.

Level-triggered and crash-safe: a port made for a server (``autoDelete``) is
deleted, a port the tenant brought is unbound (device, owner and host cleared,
status DOWN). A grace period after the port was bound covers the moments in
which the compute facade has made a port but not yet written the server.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import time
from typing import Any

from kumo import store
from kumo.common.reconciler import Controller, Requeue
from kumo.model import compute as cm
from kumo.model import network as nm

from .plane import ControlPlane

log = logging.getLogger("kumo.control.ports")
GRACE_SECONDS = 30.0
SWEEP_SECONDS = 30.0
Obj = dict[str, Any]


def _epoch(ts: str | None) -> float:
    if not ts:
        return 0.0
    try:
        return float(calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return 0.0


class PortReleaser:
    def __init__(self, rt: Any, grace: float = GRACE_SECONDS) -> None:
        self.rt = rt
        self.objects: store.ObjectStore = rt.objects
        self.grace = grace
        self.controller = Controller("port-releaser", self.reconcile, workers=2)
        self.released = 0

    async def reconcile(self, key: tuple[str, str]) -> Requeue | None:
        from kumo.api.openstack.compute.ports import release_port

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
        bound = max(_epoch(md.get("creationTimestamp")),
                    _epoch((md.get("annotations") or {}).get("kumo.io/bound-at")))
        wait = bound + self.grace - time.time()
        if wait > 0:
            return Requeue(wait + 0.1)
        await release_port(self.rt, port)
        self.released += 1
        log.info("released port %s/%s of server %s", ns, name, device)
        return None

    async def _on_port(self, ev: store.WatchEvent) -> None:
        if ev.object is not None and ev.type != "DELETED":
            md = ev.object["metadata"]
            if ev.object["spec"].get("deviceId"):
                self.controller.enqueue((md["namespace"], md["name"]))

    async def _on_ports(self, items: list[Obj]) -> None:
        for obj in items:
            await self._on_port(store.WatchEvent("ADDED", obj, 0))

    async def _on_server(self, ev: store.WatchEvent) -> None:
        if ev.object is None or ev.type != "DELETED":
            return  # detaches are released by the facade; this is for deletes
        md = ev.object["metadata"]
        found = await self.objects.list(nm.PORT, md["namespace"],
                                        label_selector=f"{nm.DEVICE_LABEL}={md['name']}")
        for port in found.items:
            self.controller.enqueue((md["namespace"], port["metadata"]["name"]))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self._on_ports((await self.objects.list(nm.PORT, None)).items)
            except store.StoreError:
                log.exception("port sweep failed")

    async def run(self) -> None:
        await asyncio.gather(
            self.controller.run(), self._sweep(),
            store.watchloop.watch_forever(self.objects, nm.PORT, None, self._on_port,
                                          self._on_ports),
            store.watchloop.watch_forever(self.objects, cm.SERVER, None, self._on_server))

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "released": self.released}


async def run(rt: ControlPlane) -> None:
    releaser = PortReleaser(rt)
    rt.debug_providers["port_releaser"] = releaser.debug_state
    await releaser.run()
