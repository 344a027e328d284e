"""DHCP scheduler: one DHCP port per DHCP-enabled network, bound to a live host.

The port (deviceOwner ``network:dhcp``, deviceId ``dhcp-<network id>``) takes an
address in every DHCP-enabled subnet through the normal IPAM. Binding it to a
host is what makes that host's agent run dnsmasq and the metadata proxy for the
network. A host that is deleted loses its DHCP ports to another live host; a
host whose agent merely stopped keeps them (its dnsmasq keeps serving).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kumo import store
from kumo.common.reconciler import Controller, Requeue
from kumo.model import compute as cm
from kumo.model import network as nm

from .plane import ControlPlane

log = logging.getLogger("kumo.control.dhcp")
Obj = dict[str, Any]


class DhcpScheduler:
    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.objects: store.ObjectStore = rt.objects
        self.controller = Controller("dhcp-scheduler", self.reconcile, workers=2)
        self.bindings = 0

    async def reconcile(self, key: tuple[str, str]) -> Requeue | None:
        from kumo.api.openstack.network import ports as network_ports

        ns, net_id = key
        net = await self.objects.try_get(nm.NETWORK, ns, net_id)
        found = await self.objects.list(nm.PORT, ns, label_selector=(
            f"{nm.DEVICE_LABEL}={nm.dhcp_device_id(net_id)}"))
        ports = found.items
        subnets = [] if net is None or net["metadata"].get("deletionTimestamp") else [
            s for s in (await self.objects.list(nm.SUBNET, ns, label_selector=(
                f"{nm.NETWORK_LABEL}={net_id}"))).items if s["spec"].get("enableDhcp", True)]
        if not subnets:
            for port in ports:
                await network_ports.delete_port_object(self.rt, port)
            return None
        for extra in ports[1:]:
            await network_ports.delete_port_object(self.rt, extra)
        wanted = {s["metadata"]["name"] for s in subnets}
        if not ports:
            port = await network_ports.create_system_port(self.rt, ns, {
                "network_id": net_id, "device_owner": nm.DHCP_OWNER,
                "device_id": nm.dhcp_device_id(net_id), "name": "",
                "fixed_ips": [{"subnet_id": s} for s in sorted(wanted)]})
        else:
            port = ports[0]
            have = {f.get("subnetId") for f in port["spec"].get("fixedIps") or []}
            if have != wanted:
                keep = [{"subnet_id": f["subnetId"], "ip_address": f["ipAddress"]}
                        for f in port["spec"].get("fixedIps") or [] if f["subnetId"] in wanted]
                add = [{"subnet_id": s} for s in sorted(wanted - have)]
                port = await network_ports.update_system_port(self.rt, port, {
                    "fixed_ips": keep + add})
        return await self._bind(port)

    async def _bind(self, port: Obj) -> Requeue | None:
        hosts = {h["metadata"]["name"]: h for h in (await self.objects.list(cm.HOST)).items}
        current = port["spec"].get("bindingHostId")
        if current and current in hosts:
            return None
        leases = {le["metadata"]["name"]: le for le in (await self.objects.list(cm.LEASE)).items}
        now = time.time()
        live = [h for h, obj in hosts.items() if cm.lease_alive(leases.get(h), now)
                and (obj.get("spec") or {}).get("enabled", True)]
        if not live:
            return Requeue(5.0)
        load = dict.fromkeys(live, 0)
        dhcp_ports = await self.objects.list(nm.PORT, None, label_selector=(
            f"{nm.OWNER_LABEL}={nm.owner_label(nm.DHCP_OWNER)}"))
        for p in dhcp_ports.items:
            h = p["spec"].get("bindingHostId")
            if h in load:
                load[h] += 1
        host = min(sorted(live), key=lambda h: load[h])
        md = port["metadata"]
        for _ in range(10):
            fresh = await self.objects.try_get(nm.PORT, md["namespace"], md["name"])
            if fresh is None:
                return None
            fresh["spec"]["bindingHostId"] = host
            fresh["metadata"].setdefault("labels", {})[cm.HOST_LABEL] = host
            try:
                await self.objects.update(fresh)
                break
            except store.Conflict:
                continue
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

    async def _on_event(self, ev: store.WatchEvent) -> None:
        if ev.object is not None:
            self._enqueue_for(ev.object)

    async def _on_sync(self, items: list[Obj]) -> None:
        for obj in items:
            self._enqueue_for(obj)

    async def _on_host(self, ev: store.WatchEvent) -> None:
        # A host appeared (unbound DHCP ports can go there) or was deleted (rebind).
        if ev.type in ("ADDED", "DELETED"):
            await self._requeue_all()

    async def _requeue_all(self) -> None:
        for net in (await self.objects.list(nm.NETWORK, None)).items:
            self._enqueue_for(net)

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(30)
            try:
                await self._requeue_all()
            except store.StoreError:
                log.exception("dhcp resync failed")

    async def run(self) -> None:
        w = store.watchloop.watch_forever
        await asyncio.gather(
            self.controller.run(), self._periodic(),
            w(self.objects, nm.NETWORK, None, self._on_event, self._on_sync),
            w(self.objects, nm.SUBNET, None, self._on_event, self._on_sync),
            w(self.objects, nm.PORT, None, self._on_event),
            w(self.objects, cm.HOST, None, self._on_host))

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "bindings": self.bindings}


async def run(rt: ControlPlane) -> None:
    sched = DhcpScheduler(rt)
    rt.debug_providers["dhcp_scheduler"] = sched.debug_state
    await sched.run()
