"""Neutron ``dns_name``/``dns_domain`` → A/AAAA recordsets, and floating-IP PTRs that
outlive their floating IP removed.

Level-based per project: any change to a project's ports, networks, floating IPs or zones
enqueues the project; its reconcile computes, for each of the project's zones, what the
project's ports and floating IPs publish there (``core.dns_neutron.wanted_records``) and
makes kumo's sets equal to it (``sync_zone``). A zone created after the port gets its
records then; a write that fails is retried with backoff. Only the project's own zones are
written, so a shared network never puts a name into another project's zone. The key
``("ptr",)`` makes the reverse records follow: a PTR for every published address, a
floating IP's own PTR dropped with it (``core.dns_reverse.sync_ptrs``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kumo import store
from kumo.common.informer import Informer
from kumo.common.reconciler import Controller, Requeue
from kumo.core import dns_neutron as dn
from kumo.core import dns_reverse
from kumo.model import dns as dm
from kumo.model import network as nm

from .plane import ControlPlane

log = logging.getLogger("kumo.control.dns_neutron")
Obj = dict[str, Any]
PTR_KEY = ("ptr",)


class DnsNeutron:
    def __init__(self, objects: store.ObjectStore) -> None:
        self.objects = objects
        self.controller = Controller("dns-neutron", self.reconcile, workers=1)
        self.writes = 0
        src = store.StoreSource
        self.ports = Informer(src(objects, nm.PORT), on_event=self._on_event,
                              on_sync=self._on_sync)
        self.networks = Informer(src(objects, nm.NETWORK), on_event=self._on_network)
        self.fips = Informer(src(objects, nm.FLOATING_IP), on_event=self._on_fip,
                             on_sync=self._on_sync)
        self.zones = Informer(src(objects, dm.DNS_ZONE), on_event=self._on_event)

    def _on_event(self, typ: str, obj: Obj) -> None:
        self.controller.enqueue(("project", obj["metadata"].get("namespace") or ""))

    def _on_fip(self, typ: str, obj: Obj) -> None:
        self._on_event(typ, obj)
        if typ == "DELETED":
            self.controller.enqueue(PTR_KEY)

    def _on_network(self, typ: str, obj: Obj) -> None:
        """A network's domain reaches every project with a port on it."""
        net_id = obj["metadata"]["name"]
        projects = {p["metadata"]["namespace"] for p in self.ports.values()
                    if p["spec"].get("networkId") == net_id}
        for project in projects | {obj["metadata"].get("namespace") or ""}:
            self.controller.enqueue(("project", project))

    def _on_sync(self, items: list[Obj]) -> None:
        for obj in items:
            self._on_event("ADDED", obj)
        self.controller.enqueue(PTR_KEY)

    def _project_view(self, project: str) -> tuple[list[Obj], list[Obj]]:
        ports = [p for p in self.ports.values() if p["metadata"]["namespace"] == project
                 and p["spec"].get("dnsName")]
        fips = [f for f in self.fips.values() if f["metadata"]["namespace"] == project
                and f["spec"].get("dnsName")]
        return ports, fips

    async def reconcile(self, key: tuple[str, ...]) -> Requeue | None:
        if key == PTR_KEY:
            self.writes += await dns_reverse.sync_ptrs(
                self.objects, self.published(),
                {f["spec"]["floatingIpAddress"] for f in self.fips.values()})
            return None
        project = key[1]
        zones = [z for z in self.zones.values() if z["metadata"]["namespace"] == project]
        if not zones or project == dns_reverse.MANAGED:
            return None
        ports, fips = self._project_view(project)
        networks = {n["metadata"]["name"]: n for n in self.networks.values()}
        for zone in zones:
            want = dn.wanted_records(zone["spec"]["name"], ports, networks, fips)
            try:
                self.writes += await dn.sync_zone(self.objects, zone, want)
            except store.NotFound:
                continue  # the zone went meanwhile
        self.controller.enqueue(PTR_KEY)
        return None

    def published(self) -> dict[str, str]:
        """address → FQDN of every port name published in a zone of its own project (a
        floating IP's PTR is its owner's, through ``/v2/reverse/floatingips``)."""
        networks = {n["metadata"]["name"]: n for n in self.networks.values()}
        ports: dict[str, list[Obj]] = {}  # project → its named ports, one scan for all zones
        for p in self.ports.values():
            if p["spec"].get("dnsName"):
                ports.setdefault(p["metadata"]["namespace"], []).append(p)
        out: dict[str, str] = {}
        for zone in self.zones.values():
            project = zone["metadata"]["namespace"]
            if project == dns_reverse.MANAGED or project not in ports:
                continue
            for (fqdn, _), addresses in dn.wanted_records(zone["spec"]["name"], ports[project],
                                                          networks, []).items():
                out.update({a: fqdn for a in addresses})
        return out

    async def run(self) -> None:
        informers = (self.ports, self.networks, self.fips, self.zones)
        await asyncio.gather(self.controller.run(), *(i.run() for i in informers))

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "writes": self.writes}


async def run(rt: ControlPlane) -> None:
    ctl = DnsNeutron(rt.objects)
    rt.debug_providers["dns_neutron"] = ctl.debug_state
    await ctl.run()
