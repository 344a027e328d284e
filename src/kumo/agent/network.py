"""The host agent's overlay: bridges, VXLAN, taps, l2population, DHCP, metadata.

Level-triggered: every change to a port, network, subnet or host (and a timer,
so hand-made damage is found) runs one full sync that computes the desired
state (network_desired.py) and diffs it against the kernel — add what is
missing, remove what is stale, re-add what someone deleted. Ports this host
plugged are reported ACTIVE with ``pluggedHost``: that status write is the
"vif plugged" event the compute side waits for.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Any, Protocol

from kumo.client import ApiClient, ApiSource
from kumo.common import clock, errors
from kumo.common.informer import Informer
from kumo.drivers.compute import NicSpec
from kumo.model import compute as cm
from kumo.model import network as nm
from kumo.model.events import event_object
from kumo.observe import metrics

from . import network_desired
from .network_dhcp import DhcpServices
from .network_report import Reporter
from .network_secgroups import SecurityGroupAgent, firewall_for

log = logging.getLogger("kumo.agent.network")
Obj = dict[str, Any]
RESYNC_INTERVAL = 15.0
VIF_PLUG_TIMEOUT = 10.0
# Only devices that look like ours are ever removed (the root namespace is shared in `kumo up`).
_OURS = re.compile(r"^(kbr-\d{1,8}|kvx-\d{1,8}|tap[0-9a-f-]{11})$")


class VifPlugTimeout(Exception):
    def __init__(self, port_id: str, host: str, seconds: float) -> None:
        super().__init__(f"port {port_id} was not plugged on host {host} within "
                         f"{seconds:g} s (no vif-plugged event)")
        self.port_id = port_id
        self.host = host


class NetDriver(Protocol):
    def links(self, prefixes: tuple[str, ...] = ...) -> dict[str, Any]: ...
    def ensure_bridge(self, name: str, mtu: int) -> bool: ...
    def ensure_vxlan(self, name: str, vni: int, local_ip: str, bridge: str, mtu: int) -> bool: ...
    def ensure_tap(self, name: str, bridge: str, mtu: int) -> bool: ...
    def ensure_veth_netns(self, host_if: str, ns_if: str, netns: str, bridge: str, mtu: int,
                          mac: str, addresses: list[str]) -> bool: ...
    def delete_link(self, name: str) -> bool: ...
    def sync_fdb(self, vxlan: str, desired: set[tuple[str, str]]) -> tuple[int, int]: ...
    def sync_neighbours(self, dev: str, desired: set[tuple[str, str]]) -> tuple[int, int]: ...
    def delete_netns(self, name: str) -> bool: ...


class NetworkAgent:
    def __init__(self, api: ApiClient, host: str, state_dir: Path, vtep_ip: str | None,
                 net: NetDriver, *, dhcp: bool = True, resync_interval: float = RESYNC_INTERVAL,
                 vif_plug_timeout: float = VIF_PLUG_TIMEOUT, firewall: Any = None) -> None:
        self.api = api
        self.host = host
        self.state_dir = state_dir
        self.vtep_ip = vtep_ip
        self.net = net
        self.dhcp_enabled = dhcp
        self.resync_interval = resync_interval
        self.vif_plug_timeout = vif_plug_timeout
        self.ports = Informer(ApiSource(api, "ports"), on_event=self._changed)
        self.networks = Informer(ApiSource(api, "networks"), on_event=self._changed)
        self.subnets = Informer(ApiSource(api, "subnets"), on_event=self._changed)
        self.hosts = Informer(ApiSource(api, "hosts"), on_event=self._host_changed)
        self._vteps: dict[str, str | None] = {}
        self._dirty = asyncio.Event()
        self.services = DhcpServices(api, host, state_dir)
        self.reporter = Reporter(api, host)  # the AgentReport `kumo doctor` reads
        self.reporter.dhcp_root = self.services.root
        self._last_desired: Any = None
        self.syncs = 0
        self.repairs = 0
        self.last_sync: dict[str, Any] = {}
        self.plugged: set[str] = set()
        self.unplugged: set[str] = set()  # local ports whose device could not be set up
        self.failures: dict[str, str] = {}
        self.after_sync: list[Any] = []  # coroutines run after each sync (the router agent)
        self.secgroups = SecurityGroupAgent(api, host, self.ports, firewall or firewall_for(net),
                                            verify_interval=resync_interval,
                                            networks=self.networks)

    def _changed(self, typ: str, obj: Obj) -> None:
        self._dirty.set()
        self.secgroups.changed()

    def _host_changed(self, typ: str, obj: Obj) -> None:
        """Hosts change on every scheduler claim; only a VTEP appearing, moving or going
        matters to the overlay, so only that triggers a sync."""
        name = obj["metadata"]["name"]
        vtep = None if typ == "DELETED" else (obj.get("status") or {}).get("vtepIp")
        if typ == "DELETED":
            self._vteps.pop(name, None)
            self._dirty.set()
        elif name not in self._vteps or self._vteps[name] != vtep:
            self._vteps[name] = vtep
            self._dirty.set()

    # ---- the compute side's entry point ------------------------------------
    async def plug_server_ports(self, server: Obj, port_ids: list[str]) -> list[NicSpec]:
        """Bind the server's ports to this host, wait for them to be plugged, return NICs."""
        ns = server["metadata"]["namespace"]
        nics = []
        for pid in port_ids:
            port = await self.api.get("ports", pid, ns)
            if port is None:
                raise VifPlugTimeout(pid, self.host, 0)
            if port["spec"].get("bindingHostId") != self.host:
                port = await self.api.patch("ports", pid, {
                    "metadata": {"labels": {cm.HOST_LABEL: self.host}},
                    "spec": {"bindingHostId": self.host}}, ns)
            nics.append(NicSpec(port_id=pid, mac=port["spec"]["macAddress"].lower(),
                                tap=nm.tap_name(pid)))
        self._dirty.set()

        def all_plugged() -> bool:
            return all(self._is_plugged(ns, pid) for pid in port_ids)

        if not await self.ports.wait_for(all_plugged, self.vif_plug_timeout):
            missing = [p for p in port_ids if not self._is_plugged(ns, p)]
            raise VifPlugTimeout(missing[0], self.host, self.vif_plug_timeout)
        return nics

    def _is_plugged(self, ns: str, pid: str) -> bool:
        port = self.ports.items.get((ns, pid))
        st = (port or {}).get("status") or {}
        return st.get("status") == "ACTIVE" and st.get("pluggedHost") == self.host

    # ---- sync loop ---------------------------------------------------------
    def _informers(self) -> list[Informer]:
        """Hosts are watched only for their VTEPs: a host without one builds no tunnels
        (and 1,000 agents each listing and watching every Host was O(hosts²) at start)."""
        return [self.ports, self.networks, self.subnets, *([self.hosts] if self.vtep_ip else [])]

    async def run(self) -> None:
        await asyncio.gather(*(inf.run() for inf in self._informers()), self._loop(),
                             self.secgroups.run())

    async def _loop(self) -> None:
        for inf in self._informers():
            await inf.synced.wait()
        while True:
            self._dirty.clear()
            try:
                await self.sync()
                metrics.NET_SYNCS.labels(self.host, "ok").inc()
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.NET_SYNCS.labels(self.host, "error").inc()
                log.exception("overlay sync failed")
                await asyncio.sleep(1.0)
                self._dirty.set()
            try:
                await asyncio.wait_for(self._dirty.wait(), self.resync_interval)
            except TimeoutError:
                pass

    def desired(self) -> network_desired.Desired:
        return network_desired.compute(
            self.host, self.vtep_ip, list(self.ports.items.values()),
            list(self.networks.items.values()), list(self.subnets.items.values()),
            list(self.hosts.items.values()))

    async def sync(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        want = self.desired()
        start, revision = time.time(), self.ports.changed_revision
        await asyncio.to_thread(self.reporter.audit, self.net, want, bool(self.vtep_ip),
                                not self.failures)
        changes = await asyncio.to_thread(self._apply_devices, want)
        changes += await self._apply_dhcp(want)
        await self._report_plugged(want)
        self.reporter.after(self, want, revision, start, changes)
        elapsed = time.perf_counter() - t0
        fingerprint = (sorted(want.bridges.items()), sorted(want.vxlans.items()),
                       sorted(want.taps), {k: sorted(v) for k, v in want.fdb.items()},
                       {k: sorted(v) for k, v in want.neigh.items()}, sorted(want.dhcp),
                       sorted(want.legs.items()))
        if fingerprint == self._last_desired and changes:
            self.repairs += changes
            metrics.NET_REPAIRS.labels(self.host).inc(changes)
            log.warning("overlay drift repaired: %d changes", changes)
        self._last_desired = fingerprint
        self.syncs += 1
        metrics.NET_SYNC_LATENCY.labels(self.host).observe(elapsed)
        counts = want.counts()
        self.last_sync = {"seconds": round(elapsed, 4), "changes": changes,
                          "local_ports": len(want.local_ports), **counts, "at": time.time()}
        for hook in self.after_sync:
            await hook()
        return self.last_sync

    def _try(self, what: str, fn: Any, *args: Any) -> int:
        """One device or table; a failure is logged and counted, the others still apply."""
        try:
            result = fn(*args)
        except Exception as exc:  # one bad device must not block every other port
            self.failures[what] = f"{type(exc).__name__}: {exc}"
            log.warning("overlay: %s failed: %s", what, exc)
            return 0
        self.failures.pop(what, None)
        if isinstance(result, tuple):
            return sum(result)
        return int(bool(result))

    def _apply_devices(self, want: network_desired.Desired) -> int:
        n = 0
        bad_bridges = set()
        for br, mtu in want.bridges.items():
            n += self._try(f"bridge {br}", self.net.ensure_bridge, br, mtu)
            if f"bridge {br}" in self.failures:
                bad_bridges.add(br)
        if self.vtep_ip:
            for vx, (vni, br, mtu) in want.vxlans.items():
                if br not in bad_bridges:
                    n += self._try(f"vxlan {vx}", self.net.ensure_vxlan, vx, vni, self.vtep_ip,
                                   br, mtu)
        self.unplugged = set()
        for tap, plan in want.taps.items():
            n += self._try(f"tap {tap}", self.net.ensure_tap, tap, plan.bridge, plan.mtu)
            if f"tap {tap}" in self.failures or plan.bridge in bad_bridges:
                self.unplugged.add(plan.port_id)
        n += self._apply_legs(want, bad_bridges)
        programmed = {"fdb": 0, "neigh": 0}
        for vx, entries in want.fdb.items():
            n += self._try(f"fdb {vx}", self.net.sync_fdb, vx, entries)
            if f"fdb {vx}" not in self.failures:
                programmed["fdb"] += len(entries)
        for vx, entries in want.neigh.items():
            n += self._try(f"neigh {vx}", self.net.sync_neighbours, vx, entries)
            if f"neigh {vx}" not in self.failures:
                programmed["neigh"] += len(entries)
        keep = set(want.bridges) | set(want.vxlans) | set(want.taps) | set(want.legs) | {
            p.host_if for p in want.dhcp.values()}
        present = self.net.links(("kbr-", "kvx-", "tap"))
        for name in present:
            if _OURS.match(name) and name not in keep:
                n += self._try(f"delete {name}", self.net.delete_link, name)
        counts = want.counts()
        for table in ("fdb", "neigh"):
            metrics.L2_ENTRIES.labels(self.host, table, "desired").set(counts[table])
            metrics.L2_ENTRIES.labels(self.host, table, "programmed").set(programmed[table])
        kinds = {"bridge": len(want.bridges), "vxlan": len(want.vxlans), "tap": len(want.taps)}
        for kind, count in kinds.items():
            metrics.L2_DEVICES.labels(self.host, kind).set(count)
        return n

    def _apply_legs(self, want: network_desired.Desired, bad_bridges: set[str]) -> int:
        """Router legs: veth pairs into qrouter-<id> (agent/network_router.py does the rest)."""
        n = 0
        for leg in want.legs.values():
            if leg.bridge in bad_bridges:
                self.unplugged.add(leg.port_id)
                continue
            n += self._try(f"leg {leg.host_if}", self.net.ensure_veth_netns, leg.host_if,
                           leg.ns_if, leg.netns, leg.bridge, leg.mtu, leg.mac,
                           list(leg.addresses))
            if f"leg {leg.host_if}" in self.failures:
                self.unplugged.add(leg.port_id)
        return n

    # ---- DHCP and metadata -------------------------------------------------
    async def _apply_dhcp(self, want: network_desired.Desired) -> int:
        n = 0
        for plan in want.dhcp.values():
            what = f"dhcp {plan.network_id}"
            n += await asyncio.to_thread(
                self._try, what, self.net.ensure_veth_netns, plan.host_if, plan.ns_if,
                plan.netns, plan.bridge, plan.mtu, plan.mac, list(plan.addresses))
            if what in self.failures:
                self.unplugged.add(plan.port_id)
                continue
            if not self.dhcp_enabled or not plan.server_ip:
                continue
            try:
                await self.services.ensure(plan)
                self.failures.pop(f"dnsmasq {plan.network_id}", None)
            except Exception as exc:  # the next sync retries; other networks go on
                self.failures[f"dnsmasq {plan.network_id}"] = f"{type(exc).__name__}: {exc}"
                log.warning("DHCP for network %s failed: %s", plan.network_id, exc)
        for nid in self.services.present():
            if nid not in want.dhcp:
                await self._teardown_dhcp(nid)
                n += 1
        return n

    async def _teardown_dhcp(self, network_id: str) -> None:
        await self.services.teardown(network_id)
        await asyncio.to_thread(self.net.delete_netns, nm.dhcp_netns(network_id))
        self.services.forget(network_id)
        log.info("DHCP for network %s removed from this host", network_id)

    # ---- status ------------------------------------------------------------
    async def _report_plugged(self, want: network_desired.Desired) -> None:
        for pid, port in want.local_ports.items():
            if pid in self.unplugged:
                continue
            st = port.get("status") or {}
            if st.get("status") == "ACTIVE" and st.get("pluggedHost") == self.host:
                continue
            ns = port["metadata"]["namespace"]
            try:
                await self.api.patch("ports", pid, {"status": {
                    "status": "ACTIVE", "pluggedHost": self.host, "pluggedAt": clock.now_iso(),
                    "vifType": "bridge"}}, ns, status=True)
            except errors.NotFound:
                continue
            self.plugged.add(pid)
            metrics.PORTS_PLUGGED.labels(self.host).inc()
            await self._event(port, "VifPlugged", f"tap {nm.tap_name(pid)} plugged on "
                              f"host {self.host}")

    async def _event(self, port: Obj, reason: str, message: str) -> None:
        """A step of the port's life for ``kumo trace``; losing it must not stop the sync."""
        ev = event_object(port, "network-agent", reason, message, extra={"host": self.host},
                          request_id=(port.get("spec") or {}).get("requestId"))
        try:
            await self.api.create("events", ev, ev["metadata"]["namespace"])
        except (errors.StoreError, OSError):
            log.warning("could not record event %s", reason)

    def debug_state(self) -> dict[str, Any]:
        return {"vtep_ip": self.vtep_ip, "syncs": self.syncs, "repairs": self.repairs,
                "last_sync": self.last_sync, "failures": dict(self.failures),
                "cache": {"ports": len(self.ports.items), "networks": len(self.networks.items),
                          "subnets": len(self.subnets.items), "hosts": len(self.hosts.items)},
                "firewall": self.secgroups.debug_state(), **self.services.debug_state()}
