"""DHCP scheduler: one DHCP port per DHCP-enabled network, bound to a live host.

The port (deviceOwner ``network:dhcp``, deviceId ``dhcp-<network id>``) takes an
address in every DHCP-enabled subnet through the normal IPAM. Binding it to a
host is what makes that host's agent run dnsmasq and the metadata proxy for the
network. A host that is deleted loses its DHCP ports to another live host; a
host whose agent merely stopped keeps them (its dnsmasq keeps serving).

A reconcile costs the same whatever the number of ports: the DHCP port's id is
derived from the network (``core.ports.system_port_id``), so it is read by key, and
the ports the Port informer has seen with the DHCP owner (ones made with a random id
before, or a stray twin) are indexed per network; host load is counted from that
index. Listing ports by label would read every port of the project on every call.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kumo import store
from kumo.common.informer import Informer
from kumo.common.reconciler import Controller, Requeue
from kumo.core import ports as core_ports
from kumo.model import compute as cm
from kumo.model import network as nm

from . import hostbind
from .plane import ControlPlane

log = logging.getLogger("kumo.control.dhcp")
Obj = dict[str, Any]


class DhcpScheduler:
    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.objects: store.ObjectStore = rt.objects
        self.controller = Controller("dhcp-scheduler", self.reconcile, workers=2)
        self.bindings = 0
        self._hosts_changed = asyncio.Event()
        self._dhcp: dict[tuple[str, str], dict[str, Obj]] = {}  # (ns, network) -> DHCP ports
        src = store.StoreSource
        self.informers = [
            Informer(src(self.objects, nm.NETWORK), on_event=self._on_event,
                     on_sync=self._on_sync),
            Informer(src(self.objects, nm.SUBNET), on_event=self._on_event,
                     on_sync=self._on_sync),
            Informer(src(self.objects, nm.PORT), on_event=self._on_event),
            Informer(src(self.objects, cm.HOST), on_event=self._on_host)]

    async def reconcile(self, key: tuple[str, str]) -> Requeue | None:
        ns, net_id = key
        net = await self.objects.try_get(nm.NETWORK, ns, net_id)
        ports = await self._ports_of(ns, net_id)
        subnets = [] if net is None or net["metadata"].get("deletionTimestamp") else [
            s for s in (await self.objects.list(nm.SUBNET, ns, label_selector=(
                f"{nm.NETWORK_LABEL}={net_id}"))).items if s["spec"].get("enableDhcp", True)]
        if not subnets:
            for port in ports:
                await core_ports.delete_port(self.objects, port)
            return None
        for extra in ports[1:]:
            await core_ports.delete_port(self.objects, extra)
        wanted = {s["metadata"]["name"] for s in subnets}
        if not ports:
            try:
                port = await core_ports.create_system_port(
                    self.objects, ns, net_id, device_owner=nm.DHCP_OWNER,
                    device_id=nm.dhcp_device_id(net_id), subnet_ids=sorted(wanted))
            except store.AlreadyExists:
                return Requeue(0.0)  # made meanwhile (another worker): look again
        else:
            port = ports[0]
            have = {f.get("subnetId") for f in port["spec"].get("fixedIps") or []}
            if have != wanted:
                keep = [core_ports.FixedIp(f["subnetId"], f["ipAddress"])
                        for f in port["spec"].get("fixedIps") or [] if f["subnetId"] in wanted]
                add = [core_ports.FixedIp(s) for s in sorted(wanted - have)]
                port = await core_ports.set_fixed_ips(self.objects, port, keep + add)
        return await self._bind(port)

    async def _ports_of(self, ns: str, net_id: str) -> list[Obj]:
        """The network's DHCP ports, fresh from the store by key: the one named by the
        network first, then any other the informer has seen."""
        device = nm.dhcp_device_id(net_id)
        main = core_ports.system_port_id(net_id, device)
        out = []
        for name in [main, *sorted(set(self._dhcp.get((ns, net_id), {})) - {main})]:
            port = await self.objects.try_get(nm.PORT, ns, name)
            if port is not None and port["spec"].get("deviceId") == device:
                out.append(port)
        return out

    async def _bind(self, port: Obj) -> Requeue | None:
        current = port["spec"].get("bindingHostId")
        if current and await self.objects.try_get(cm.HOST, "", current) is not None:
            return None  # its host exists: no list of hosts and leases
        live = await hostbind.live_hosts(self.objects, (await self.objects.list(cm.HOST)).items)
        if not live:
            return Requeue(5.0)
        host = hostbind.least_loaded(live, (p["spec"].get("bindingHostId") for ports
                                            in self._dhcp.values() for p in ports.values()))
        if await core_ports.bind(self.objects, port, host) is None:
            return None
        self.bindings += 1
        log.info("DHCP for network %s bound to host %s (was %s)", port["spec"]["networkId"],
                 host, current)
        return None

    def _enqueue_for(self, obj: Obj) -> None:
        kind = obj.get("kind")
        md = obj["metadata"]
        if kind == nm.NETWORK:
            self.controller.enqueue((md["namespace"], md["name"]))
        elif kind in (nm.SUBNET, nm.PORT):
            net = obj["spec"].get("networkId")
            if net and (kind == nm.SUBNET or obj["spec"].get("deviceOwner") == nm.DHCP_OWNER):
                self.controller.enqueue((md["namespace"], net))

    def _on_event(self, typ: str, obj: Obj) -> None:
        if obj.get("kind") == nm.PORT and obj["spec"].get("deviceOwner") == nm.DHCP_OWNER:
            md = obj["metadata"]
            key = (md.get("namespace") or "", obj["spec"].get("networkId") or "")
            if typ == "DELETED":
                self._dhcp.get(key, {}).pop(md["name"], None)
                if not self._dhcp.get(key, True):
                    del self._dhcp[key]
            else:
                self._dhcp.setdefault(key, {})[md["name"]] = obj
        self._enqueue_for(obj)

    def _on_sync(self, items: list[Obj]) -> None:
        for obj in items:
            self._enqueue_for(obj)

    def _on_host(self, typ: str, obj: Obj) -> None:
        # A host appeared (unbound DHCP ports can go there) or was deleted (rebind).
        if typ in ("ADDED", "DELETED"):
            self._hosts_changed.set()

    async def _requeue_all(self) -> None:
        for net in (await self.objects.list(nm.NETWORK, None)).items:
            self._enqueue_for(net)

    async def _on_hosts_changed(self) -> None:
        """One requeue per burst of host changes (a re-list reports every host)."""
        while True:
            await self._hosts_changed.wait()
            self._hosts_changed.clear()
            try:
                await self._requeue_all()
            except store.StoreError:
                log.exception("dhcp requeue failed")

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(30)
            try:
                await self._requeue_all()
            except store.StoreError:
                log.exception("dhcp resync failed")

    async def run(self) -> None:
        await asyncio.gather(self.controller.run(), self._periodic(), self._on_hosts_changed(),
                             *(i.run() for i in self.informers))

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "bindings": self.bindings,
                "informers": [i.debug_state() for i in self.informers]}


async def run(rt: ControlPlane) -> None:
    sched = DhcpScheduler(rt)
    rt.debug_providers["dhcp_scheduler"] = sched.debug_state
    await sched.run()
