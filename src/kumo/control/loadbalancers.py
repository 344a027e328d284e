"""Load-balancer scheduler: every LoadBalancer bound to one live host, its VIP port with it.

Binding (``spec.host`` + label ``kumo.io/host``) picks the live, enabled host with the
fewest load balancers; an LB keeps its host while that Host exists. The VIP port
(deviceOwner "Octavia") is bound to the same host, which makes that host's overlay sync
plug it as a veth into ``qlb-<id>``; the host's load-balancer agent runs HAProxy there
and reports what it serves (agent/loadbalancer.py). Level-triggered: a crash between the
two writes is finished by the next pass. It also keeps the VIP's security group
(``lb-<id>``, core/loadbalancer_vip_sg.py) allowing exactly the listeners' ports.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kumo import store
from kumo.common.informer import Informer
from kumo.common.reconciler import Controller, Requeue
from kumo.core import loadbalancer_vip_sg as vip_sg
from kumo.core import ports as core_ports
from kumo.model import compute as cm
from kumo.model import loadbalancer as lbm
from kumo.model import network as nm

from . import hostbind
from .plane import ControlPlane

log = logging.getLogger("kumo.control.loadbalancers")
Obj = dict[str, Any]
COMPONENT = "lb-scheduler"


class LoadBalancerScheduler:
    def __init__(self, rt: Any) -> None:
        self.objects: store.ObjectStore = rt.objects
        self.controller = Controller(COMPONENT, self.reconcile, workers=2)
        self.bindings = 0
        src = store.StoreSource
        self.lbs = Informer(src(self.objects, lbm.LOADBALANCER), on_event=self._on_lb,
                            on_sync=self._on_sync)
        self.hosts = Informer(src(self.objects, cm.HOST), on_event=self._on_host)

    def _on_lb(self, typ: str, obj: Obj) -> None:
        if typ != "DELETED":
            self.controller.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def _on_sync(self, items: list[Obj]) -> None:
        for obj in items:
            self._on_lb("ADDED", obj)

    def _on_host(self, typ: str, obj: Obj) -> None:
        if typ in ("ADDED", "DELETED"):
            for lb in list(self.lbs.items.values()):
                self._on_lb("MODIFIED", lb)

    async def reconcile(self, key: tuple[str, str]) -> Requeue | None:
        project, lb_id = key
        lb = await self.objects.try_get(lbm.LOADBALANCER, project, lb_id)
        if lb is None or lb["metadata"].get("deletionTimestamp"):
            return None
        host = lb["spec"].get("host")
        if not host or ("", host) not in self.hosts.items:
            live = await hostbind.live_hosts(self.objects, self.hosts.items.values())
            if not live:
                return Requeue(2.0)
            host = hostbind.least_loaded(live, (o["spec"].get("host")
                                                for o in self.lbs.items.values()))
            # the generation moves: the LB is PENDING until the agent there serves it
            lb = await hostbind.bind(self.objects, lb, host, component=COMPONENT,
                                     reason="LoadBalancerScheduled")
            if lb is None:
                return None
            self.bindings += 1
        port = await self.objects.try_get(nm.PORT, project, lb["spec"].get("vipPortId") or "-")
        if port is None:
            port = await core_ports.port_by_id(self.objects, lb["spec"].get("vipPortId") or "-")
        if port is not None and port["spec"].get("bindingHostId") != host:
            await core_ports.bind(self.objects, port, host)
        if lb["spec"].get("vipPortOwned", True):  # the VIP's group follows the listeners
            await vip_sg.sync(self.objects, lb)
        return None

    async def run(self) -> None:
        await asyncio.gather(self.controller.run(), self.lbs.run(), self.hosts.run())

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "bindings": self.bindings}


async def run(rt: ControlPlane) -> None:
    sched = LoadBalancerScheduler(rt)
    rt.debug_providers["lb_scheduler"] = sched.debug_state
    await sched.run()
