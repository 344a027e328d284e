"""What each router bound to this host should look like inside its namespace, computed
from the store's objects alone (the legs themselves come from network_desired.py)."""

from __future__ import annotations

import ipaddress
from typing import Any

from kumo.drivers.linuxnet_router import FipNat, RouterConfig
from kumo.model import network as nm

Obj = dict[str, Any]


def _first_ip(port: Obj) -> tuple[str, str] | None:
    for f in port["spec"].get("fixedIps") or []:
        if ipaddress.ip_address(f["ipAddress"]).version == 4:
            return f["subnetId"], f["ipAddress"]
    return None


def router_config(router: Obj, legs: list[Obj], subnets: dict[str, Obj],
                  fips: list[Obj]) -> RouterConfig:
    """One router: its gateway, the subnets behind it, its routes and floating IPs."""
    rid = router["metadata"]["name"]
    spec = router["spec"]
    gw = spec.get("externalGateway") or None
    gw_if = gw_ip = nexthop = None
    cidrs: list[str] = []
    for leg in legs:
        owner = leg["spec"].get("deviceOwner")
        first = _first_ip(leg)
        if first is None:
            continue
        sub = subnets.get(first[0])
        if owner == nm.ROUTER_GATEWAY_OWNER and gw:
            gw_if = nm.router_leg_ifname(leg["metadata"]["name"], owner)
            gw_ip = first[1]
            nexthop = (sub or {}).get("spec", {}).get("gatewayIp")
        elif owner == nm.ROUTER_INTERFACE_OWNER:
            for f in leg["spec"].get("fixedIps") or []:
                s = subnets.get(f["subnetId"])
                if s is not None:
                    cidrs.append(s["spec"]["cidr"])
    nats = tuple(sorted(
        (FipNat(f["metadata"]["name"], f["spec"]["floatingIpAddress"],
                f["spec"]["fixedIpAddress"])
         for f in fips if f["spec"].get("routerId") == rid and f["spec"].get("fixedIpAddress")
         and gw_if), key=lambda n: n.floating_ip))
    routes = tuple((r["destination"], r["nexthop"]) for r in spec.get("routes") or [])
    return RouterConfig(netns=nm.router_netns(rid), gateway_if=gw_if, gateway_ip=gw_ip,
                        gateway_nexthop=nexthop,
                        snat=bool(gw.get("enableSnat", True)) if gw else False,
                        internal_cidrs=tuple(sorted(set(cidrs))), routes=routes, fips=nats)


def compute(host: str, routers: list[Obj], ports: list[Obj], subnets: list[Obj],
            fips: list[Obj]) -> dict[str, tuple[Obj, RouterConfig]]:
    """router id -> (router, config) for every router bound to ``host`` (one that is
    administratively down gets a config that does not forward)."""
    by_id = {s["metadata"]["name"]: s for s in subnets}
    legs: dict[str, list[Obj]] = {}
    for p in ports:
        spec = p["spec"]
        if spec.get("deviceOwner") in nm.ROUTER_OWNERS and spec.get("bindingHostId") == host:
            legs.setdefault(spec.get("deviceId") or "", []).append(p)
    by_router: dict[str, list[Obj]] = {}  # each router's FIPs: one pass, not one a router
    for f in fips:
        by_router.setdefault(f["spec"].get("routerId") or "", []).append(f)
    out = {}
    for r in routers:
        rid = r["metadata"]["name"]
        if r["spec"].get("host") != host or r["metadata"].get("deletionTimestamp"):
            continue
        if not r["spec"].get("adminStateUp", True):
            # down: the namespace keeps its legs (ports stay ACTIVE) but neither
            # forwards nor NATs, and no floating IP answers ARP
            out[rid] = (r, RouterConfig(netns=nm.router_netns(rid), forwarding=False))
            continue
        out[rid] = (r, router_config(r, legs.get(rid, []), by_id,
                                        by_router.get(rid, [])))
    return out
