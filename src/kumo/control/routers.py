"""Router scheduler: every router bound to one live host, its legs bound with it, and
floating IPs let go of ports that are gone.

Binding a router (``spec.host`` + label ``kumo.io/host``) picks the live, enabled host
with the fewest routers; a router keeps its host while that Host exists (a stopped
agent's namespace keeps forwarding). Each leg (``network:router_interface`` and
``network:router_gateway`` ports, ``deviceId`` = router) is bound to the router's host,
which is what makes that host's overlay sync build the veth into ``qrouter-<id>``.
A router set administratively down keeps its legs bound (ports ACTIVE, as Neutron's);
the router agent programs its namespace not to forward or NAT. A floating IP whose port was deleted is disassociated (Neutron does it in the port
delete; here it is level-triggered, so a crash in between is repaired too).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kumo import store
from kumo.common.informer import Informer
from kumo.common.reconciler import Controller, Requeue
from kumo.core import floatingips as core_fips
from kumo.core import ports as core_ports
from kumo.core.actor import Actor
from kumo.core.errors import DomainError
from kumo.model import compute as cm
from kumo.model import network as nm

from . import hostbind
from .plane import ControlPlane

log = logging.getLogger("kumo.control.routers")
Obj = dict[str, Any]
COMPONENT = "router-scheduler"


class RouterScheduler:
    def __init__(self, rt: Any) -> None:
        self.objects: store.ObjectStore = rt.objects
        self.controller = Controller(COMPONENT, self.reconcile, workers=2)
        self.bindings = 0
        src = store.StoreSource
        self.routers = Informer(src(self.objects, nm.ROUTER), on_event=self._on_router,
                                on_sync=self._on_sync)
        self.ports = Informer(src(self.objects, nm.PORT), on_event=self._on_port)
        self.fips = Informer(src(self.objects, nm.FLOATING_IP), on_event=self._on_fip,
                             on_sync=self._on_sync)
        self.hosts = Informer(src(self.objects, cm.HOST), on_event=self._on_host)

    # ---- events -> keys -------------------------------------------------------------
    def _on_router(self, typ: str, obj: Obj) -> None:
        self.controller.enqueue(("router", obj["metadata"]["name"]))

    def _on_port(self, typ: str, obj: Obj) -> None:
        spec = obj["spec"]
        if spec.get("deviceOwner") in nm.ROUTER_OWNERS and spec.get("deviceId"):
            self.controller.enqueue(("router", spec["deviceId"]))
        if typ == "DELETED":
            self.controller.enqueue(("port-gone", obj["metadata"]["name"]))

    def _on_fip(self, typ: str, obj: Obj) -> None:
        if typ != "DELETED" and obj["spec"].get("portId"):
            self.controller.enqueue(("port-gone", obj["spec"]["portId"]))

    def _on_sync(self, items: list[Obj]) -> None:
        for obj in items:
            if obj.get("kind") == nm.ROUTER:
                self._on_router("ADDED", obj)
            else:
                self._on_fip("ADDED", obj)

    def _on_host(self, typ: str, obj: Obj) -> None:
        if typ in ("ADDED", "DELETED"):
            for r in list(self.routers.items.values()):
                self._on_router("MODIFIED", r)

    # ---- reconcile --------------------------------------------------------------------
    async def reconcile(self, key: tuple[str, str]) -> Requeue | None:
        what, ident = key
        if what == "port-gone":
            return await self._release_fips(ident)
        router = next((r for (_, name), r in self.routers.items.items() if name == ident), None)
        if router is None or router["metadata"].get("deletionTimestamp"):
            return None
        router = await self.objects.try_get(nm.ROUTER, router["metadata"]["namespace"], ident)
        if router is None:
            return None
        host = router["spec"].get("host")
        if not host or ("", host) not in self.hosts.items:
            live = await hostbind.live_hosts(self.objects, self.hosts.items.values())
            if not live:
                return Requeue(5.0)
            host = hostbind.least_loaded(live, (o["spec"].get("host")
                                                for o in self.routers.items.values()))
            router = await hostbind.bind(self.objects, router, host, component=COMPONENT,
                                         reason="RouterScheduled")
            if router is None:
                return None
            self.bindings += 1
        # legs stay bound whatever the admin state: the agent stops forwarding instead
        legs = await self.objects.list(nm.PORT, None,
                                       label_selector=f"{nm.DEVICE_LABEL}={ident}")
        for port in legs.items:
            if port["spec"].get("deviceOwner") in nm.ROUTER_OWNERS and \
                    port["spec"].get("bindingHostId") != host:
                await core_ports.bind(self.objects, port, host)
        return None

    async def _release_fips(self, port_id: str) -> None:
        await self.ports.synced.wait()  # "no such port" means nothing before the first list
        if any(name == port_id for (_, name) in self.ports.items):
            return None
        for fip in list(self.fips.items.values()):
            if fip["spec"].get("portId") != port_id:
                continue
            fresh = await self.objects.try_get(nm.FLOATING_IP, fip["metadata"]["namespace"],
                                               fip["metadata"]["name"])
            if fresh is None or fresh["spec"].get("portId") != port_id:
                continue
            try:
                await core_fips.associate(self.objects, Actor.kumo(), fresh, None)
            except DomainError as exc:
                log.warning("floating IP %s: %s", fip["metadata"]["name"], exc)
        return None

    async def run(self) -> None:
        informers = (self.routers, self.ports, self.fips, self.hosts)
        await asyncio.gather(self.controller.run(), *(i.run() for i in informers))

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "bindings": self.bindings}


async def run(rt: ControlPlane) -> None:
    sched = RouterScheduler(rt)
    rt.debug_providers["router_scheduler"] = sched.debug_state
    await sched.run()
