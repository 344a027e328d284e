"""What one host's overlay should look like, computed from the store's objects.

A pure function of (host, ports, networks, subnets, hosts): the agent applies
the result and diffs it against the kernel, so a missing or stale entry is found
and repaired, whatever caused it (l2population as Neutron's linuxbridge agent
does it, without the RPC fan-out: every agent watches the ports itself).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kumo.model import loadbalancer as lbm
from kumo.model import network as nm

Obj = dict[str, Any]
FLOOD_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class TapPlan:
    port_id: str
    namespace: str
    bridge: str
    mtu: int


@dataclass(frozen=True)
class DhcpPlan:
    network_id: str
    port_id: str
    namespace: str  # the port's project, for status writes
    netns: str
    host_if: str
    ns_if: str
    bridge: str
    mtu: int
    mac: str
    addresses: tuple[str, ...]  # CIDR form, the metadata address included
    server_ip: str  # first address: the classless route to metadata points at it
    subnets: tuple[Obj, ...]
    hosts: tuple[tuple[str, str, str], ...]  # (mac, ip, hostname)


@dataclass(frozen=True)
class LegPlan:
    """A router's leg: veth ``host_if`` on the bridge, ``ns_if`` in the router's namespace
    with the port's MAC and addresses (the router agent does the rest inside)."""

    port_id: str
    netns: str
    host_if: str
    ns_if: str
    bridge: str
    mtu: int
    mac: str
    addresses: tuple[str, ...]


@dataclass
class Desired:
    bridges: dict[str, int] = field(default_factory=dict)  # name -> mtu
    vxlans: dict[str, tuple[int, str, int]] = field(default_factory=dict)  # name -> vni, br, mtu
    taps: dict[str, TapPlan] = field(default_factory=dict)
    dhcp: dict[str, DhcpPlan] = field(default_factory=dict)  # network id -> plan
    legs: dict[str, LegPlan] = field(default_factory=dict)  # host_if -> router leg
    fdb: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # vxlan -> {(mac, dst)}
    neigh: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # vxlan -> {(ip, mac)}
    local_ports: dict[str, Obj] = field(default_factory=dict)  # port id -> port

    def counts(self) -> dict[str, int]:
        return {"fdb": sum(len(v) for v in self.fdb.values()),
                "neigh": sum(len(v) for v in self.neigh.values())}


def _bound_host(port: Obj) -> str | None:
    return (port.get("spec") or {}).get("bindingHostId") or None


def _ips(port: Obj) -> list[str]:
    return [f["ipAddress"] for f in port["spec"].get("fixedIps") or [] if f.get("ipAddress")]


def hostname_for(ip: str) -> str:
    return "host-" + ip.replace(".", "-")


def compute(host: str, vtep_ip: str | None, ports: list[Obj], networks: list[Obj],
            subnets: list[Obj], hosts: list[Obj]) -> Desired:
    nets = {n["metadata"]["name"]: n for n in networks
            if not n["metadata"].get("deletionTimestamp")}
    subnets_of: dict[str, list[Obj]] = {}
    for s in subnets:
        subnets_of.setdefault(s["spec"]["networkId"], []).append(s)
    vteps = {h["metadata"]["name"]: (h.get("status") or {}).get("vtepIp") for h in hosts}
    ports_of: dict[str, list[Obj]] = {}
    for p in ports:
        ports_of.setdefault(p["spec"].get("networkId", ""), []).append(p)

    d = Desired()
    local = [p for p in ports if _bound_host(p) == host and p["spec"].get("networkId") in nets]
    for port in local:
        pid = port["metadata"]["name"]
        net = nets[port["spec"]["networkId"]]
        nid = net["metadata"]["name"]
        mtu = int(net["spec"].get("mtu") or nm.VXLAN_MTU)
        vni = net["spec"].get("segmentationId")
        if not vni:
            continue  # every network gets a VNI at create; without one there is no segment
        br = nm.bridge_name(int(vni))
        d.bridges[br] = mtu
        d.local_ports[pid] = port
        if vtep_ip:
            d.vxlans[nm.vxlan_name(int(vni))] = (int(vni), br, mtu)
        if port["spec"].get("deviceOwner") == nm.DHCP_OWNER:
            d.dhcp[nid] = _dhcp_plan(port, net, subnets_of.get(nid, []), ports_of.get(nid, []))
        elif port["spec"].get("deviceOwner") in (*nm.ROUTER_OWNERS, lbm.VIP_OWNER):
            leg = _leg_plan(port, br, mtu, subnets_of.get(nid, []))
            d.legs[leg.host_if] = leg
        else:
            d.taps[nm.tap_name(pid)] = TapPlan(pid, port["metadata"]["namespace"], br, mtu)

    if not vtep_ip:
        return d
    for nid in {p["spec"]["networkId"] for p in local}:
        vni = nets[nid]["spec"].get("segmentationId")
        if not vni:
            continue
        vx = nm.vxlan_name(int(vni))
        fdb: set[tuple[str, str]] = set()
        neigh: set[tuple[str, str]] = set()
        for p in ports_of.get(nid, []):
            other = _bound_host(p)
            if other is None or other == host:
                continue
            dst = vteps.get(other)
            if not dst:
                continue  # a host that is gone (or has no VTEP) gets no entries
            mac = p["spec"]["macAddress"].lower()
            fdb.add((mac, dst))
            fdb.add((FLOOD_MAC, dst))
            for ip in _ips(p):
                neigh.add((ip, mac))
        d.fdb[vx] = fdb
        d.neigh[vx] = neigh
    return d


def _dhcp_plan(port: Obj, net: Obj, subnets: list[Obj], ports: list[Obj]) -> DhcpPlan:
    nid = net["metadata"]["name"]
    pid = port["metadata"]["name"]
    by_id = {s["metadata"]["name"]: s for s in subnets}
    addresses = []
    for f in port["spec"].get("fixedIps") or []:
        sub = by_id.get(f.get("subnetId"))
        if sub is None:
            continue
        prefix = ipaddress.ip_network(sub["spec"]["cidr"]).prefixlen
        addresses.append(f"{f['ipAddress']}/{prefix}")
    server_ip = addresses[0].split("/")[0] if addresses else ""
    addresses.append(f"{nm.METADATA_IP}/32")
    dhcp_subnets = tuple(s for s in subnets if s["spec"].get("enableDhcp", True))
    hosts = []
    for p in ports:
        if p["spec"].get("deviceOwner") == nm.DHCP_OWNER:
            continue
        for f in p["spec"].get("fixedIps") or []:
            if f.get("subnetId") in {s["metadata"]["name"] for s in dhcp_subnets}:
                hosts.append((p["spec"]["macAddress"].lower(), f["ipAddress"],
                              hostname_for(f["ipAddress"])))
                break  # one lease per MAC
    return DhcpPlan(
        network_id=nid, port_id=pid, namespace=port["metadata"]["namespace"],
        netns=nm.dhcp_netns(nid), host_if=nm.tap_name(pid), ns_if=nm.dhcp_ns_ifname(pid),
        bridge=nm.bridge_name(int(net["spec"]["segmentationId"])), mtu=int(net["spec"].get("mtu") or nm.VXLAN_MTU),
        mac=port["spec"]["macAddress"].lower(), addresses=tuple(addresses),
        server_ip=server_ip, subnets=dhcp_subnets, hosts=tuple(sorted(hosts)))


def _leg_plan(port: Obj, bridge: str, mtu: int, subnets: list[Obj]) -> LegPlan:
    spec, pid = port["spec"], port["metadata"]["name"]
    prefix = {s["metadata"]["name"]: ipaddress.ip_network(s["spec"]["cidr"]).prefixlen
              for s in subnets}
    addresses = tuple(f"{f['ipAddress']}/{prefix[f['subnetId']]}"
                      for f in spec.get("fixedIps") or [] if f.get("subnetId") in prefix)
    if spec["deviceOwner"] == lbm.VIP_OWNER:  # a load balancer's VIP: qlb-<lb id>
        netns = lbm.lb_netns(spec["deviceId"].removeprefix("lb-"))
        return LegPlan(pid, netns, nm.tap_name(pid), lbm.vip_ifname(pid), bridge, mtu,
                       spec["macAddress"].lower(), addresses)
    return LegPlan(pid, nm.router_netns(spec["deviceId"]), nm.tap_name(pid),
                   nm.router_leg_ifname(pid, spec["deviceOwner"]), bridge, mtu,
                   spec["macAddress"].lower(), addresses)
