"""Subnets: /v2.0/subnets — IPv4 only; CIDR, gateway, pools, DNS and routes validated
as Neutron does. Subnet creates on one network are serialised in this process so
two overlapping CIDRs cannot both pass the overlap check."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import ports as core_ports
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .common import (
    Caller,
    body_of,
    caller,
    check_keys,
    check_project,
    claim_quota,
    create_request,
    find_network,
    find_visible,
    mutate,
    new_object,
    release_quota,
    standard,
    to_bool,
    to_ipv4,
    to_str,
    to_tags,
    unique_list,
    visible_networks,
    writable,
)
from .errors import bad_request, err, invalid, not_found, policy
from .lists import by_creation, list_response, shown
from .subnetpools import claim_cidr, pool_of, release_cidr

Obj = dict[str, Any]
IPv4 = ipaddress.IPv4Address
MAX_DNS = 5
MAX_ROUTES = 20
_CREATE = {"name", "description", "network_id", "ip_version", "cidr", "gateway_ip",
           "allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp", "tags",
           "project_id", "tenant_id", "subnetpool_id", "prefixlen", "ipv6_ra_mode",
           "ipv6_address_mode", "service_types", "segment_id", "use_default_subnetpool"}
_UPDATE = {"name", "description", "gateway_ip", "allocation_pools", "dns_nameservers",
           "host_routes", "enable_dhcp"}
_READ_ONLY = {"id", "network_id", "ip_version", "cidr", "project_id", "tenant_id",
              "subnetpool_id", "tags"}
_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


def subnet_view(sub: Obj) -> Obj:
    spec = sub["spec"]
    return {**standard(sub), "name": spec.get("name", ""), "network_id": spec["networkId"],
            "ip_version": 4, "subnetpool_id": spec.get("subnetpoolId"), "enable_dhcp": spec.get("enableDhcp", True),
            "ipv6_ra_mode": None, "ipv6_address_mode": None,
            "gateway_ip": spec.get("gatewayIp"), "cidr": spec["cidr"],
            "allocation_pools": [{"start": p["start"], "end": p["end"]}
                                 for p in spec.get("allocationPools") or []],
            "host_routes": [{"destination": r["destination"], "nexthop": r["nexthop"]}
                            for r in spec.get("hostRoutes") or []],
            "dns_nameservers": list(spec.get("dnsNameservers") or []),
            "service_types": [], "segment_id": None}


# ---- validation -----------------------------------------------------------------
def parse_cidr(value: Any) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except (ValueError, TypeError) as exc:
        raise invalid(f"Invalid input for cidr. Reason: '{value}' is not a valid IP "
                      "subnet.") from exc
    if not isinstance(net, ipaddress.IPv4Network):
        raise invalid("kumo supports IPv4 subnets only.")
    if net.prefixlen > 30:
        raise invalid(f"Invalid input for cidr. Reason: '{value}' leaves no room for hosts: "
                      "the prefix length must be 30 or less.")
    return net


def _hosts(net: ipaddress.IPv4Network) -> tuple[int, int]:
    return int(net.network_address) + 1, int(net.broadcast_address) - 1


def parse_gateway(net: ipaddress.IPv4Network, value: Any) -> str | None:
    if value is None:
        return None
    ip = to_ipv4("gateway_ip", value)
    lo, hi = _hosts(net)
    if not lo <= int(ip) <= hi:
        raise invalid(f"Gateway IP {ip} is not a valid host address of subnet {net}.")
    return str(ip)


def default_pools(net: ipaddress.IPv4Network, gateway: str | None) -> list[Obj]:
    lo, hi = _hosts(net)
    gw = int(IPv4(gateway)) if gateway else None
    ranges = [(lo, hi)] if gw is None else [(lo, gw - 1), (gw + 1, hi)]
    return [{"start": str(IPv4(a)), "end": str(IPv4(b))} for a, b in ranges if a <= b]


def parse_pools(net: ipaddress.IPv4Network, value: Any, gateway: str | None) -> list[Obj]:
    if value is None:
        return default_pools(net, gateway)
    if not isinstance(value, list):
        raise invalid(f"Invalid input for allocation_pools. Reason: '{value}' is not a list.")
    lo, hi = _hosts(net)
    ranges: list[tuple[int, int]] = []
    for pool in value:
        if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
            raise invalid(f"Invalid input for allocation_pools. Reason: '{pool}' must have "
                          "exactly the keys start and end.")
        start, end = to_ipv4("start", pool["start"]), to_ipv4("end", pool["end"])
        text = f"{start}-{end}"
        if int(start) > int(end):
            raise err(400, "InvalidAllocationPool", f"The allocation pool {text} is not valid.")
        if int(start) < lo or int(end) > hi:
            raise err(400, "OutOfBoundsAllocationPool",
                      f"The allocation pool {text} spans beyond the subnet cidr {net}.")
        ranges.append((int(start), int(end)))
    ranges.sort()
    for (_, a_end), (b_start, b_end) in zip(ranges, ranges[1:], strict=False):
        if b_start <= a_end:
            raise err(400, "OverlappingAllocationPools",
                      f"Found overlapping allocation pools: {IPv4(b_start)}-{IPv4(b_end)} "
                      f"overlaps with another pool for subnet {net}.")
    check_gateway_vs_pools(gateway, [{"start": str(IPv4(a)), "end": str(IPv4(b))}
                                     for a, b in ranges])
    return [{"start": str(IPv4(a)), "end": str(IPv4(b))} for a, b in ranges]


def check_gateway_vs_pools(gateway: str | None, pools: list[Obj]) -> None:
    if gateway is None:
        return
    gw = int(IPv4(gateway))
    for p in pools:
        if int(IPv4(p["start"])) <= gw <= int(IPv4(p["end"])):
            raise err(400, "GatewayConflictWithAllocationPools",
                      f"Gateway ip {gateway} conflicts with allocation pool "
                      f"{p['start']}-{p['end']}")


def parse_dns(value: Any) -> list[str]:
    if value is None:
        return []
    return unique_list(
        "dns_nameservers", value, lambda ns: str(to_ipv4("dns_nameservers", ns)),
        lambda ip: invalid(f"Invalid input for dns_nameservers. Reason: Duplicate nameserver "
                           f"'{ip}'."), MAX_DNS,
        lambda: err(400, "DNSNameServersExhausted",
                    f"Unable to complete operation for {value}. The number of DNS nameservers "
                    f"exceeds the limit {MAX_DNS}."))


def _route(r: Any) -> Obj:
    if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
        raise invalid(f"Invalid input for host_routes. Reason: '{r}' must have exactly "
                      "the keys destination and nexthop.")
    try:
        dest = ipaddress.IPv4Network(r["destination"], strict=False)
    except (ValueError, TypeError) as exc:
        raise invalid(f"Invalid input for host_routes. Reason: '{r['destination']}' is "
                      "not a valid IP subnet.") from exc
    return {"destination": str(dest), "nexthop": str(to_ipv4("nexthop", r["nexthop"]))}


def parse_routes(value: Any) -> list[Obj]:
    if value is None:
        return []
    return unique_list(
        "host_routes", value, _route,
        lambda route: invalid(f"Invalid input for host_routes. Reason: Duplicate hostroute "
                              f"'{route}'."), MAX_ROUTES,
        lambda: err(400, "HostRoutesExhausted",
                    f"Unable to complete operation for {value}. The number of host routes "
                    f"exceeds the limit {MAX_ROUTES}."))


# ---- lookups -----------------------------------------------------------------------
async def visible_subnets(rt: Runtime, c: Caller) -> list[Obj]:
    """Own subnets, and those of networks the caller sees (shared ones)."""
    if c.is_admin:
        return (await rt.objects.list(nm.SUBNET, None)).items
    # an external network is listed to everyone, its subnets are not (Neutron)
    nets = {n["metadata"]["name"] for n in await visible_networks(rt, c)
            if not n["spec"].get("external") or n["spec"].get("shared")}
    own = (await rt.objects.list(nm.SUBNET, c.project_id)).items
    names = {s["metadata"]["name"] for s in own}
    others = [s for s in (await rt.objects.list(nm.SUBNET, None)).items
              if s["spec"]["networkId"] in nets and s["metadata"]["name"] not in names]
    return own + others


async def find_subnet(rt: Runtime, c: Caller, subnet_id: str) -> Obj:
    return await find_visible(rt, c, nm.SUBNET, subnet_id, visible_subnets)


# ---- handlers ------------------------------------------------------------------------
async def index(request: Request) -> Response:
    c = await caller(request)
    subs = await visible_subnets(runtime(request), c)
    views = [subnet_view(s) for s in by_creation(subs)]
    return JSONResponse(list_response(request, "subnets", views))


async def show(request: Request) -> Response:
    c = await caller(request)
    sub = await find_subnet(runtime(request), c, request.path_params["subnet_id"])
    return shown(request, "subnet", subnet_view(sub))


async def create(request: Request) -> Response:
    c, data = await create_request(request, "subnet", _CREATE)
    rt = runtime(request)
    project = check_project(c, data)
    for unsupported in ("ipv6_ra_mode", "ipv6_address_mode", "segment_id"):
        if data.get(unsupported) is not None:
            raise invalid(f"{unsupported} is not supported by kumo.")
    if data.get("service_types"):
        raise invalid("service_types is not supported by kumo.")
    if "network_id" not in data:
        raise bad_request("Failed to parse request. Required attribute 'network_id' not "
                          "specified")
    ip_version = data.get("ip_version", 4)
    if ip_version not in (4, "4"):
        raise invalid(f"Invalid input for ip_version. Reason: kumo supports IPv4 subnets only "
                      f"(got {ip_version}).")
    pool = await pool_of(rt, c, data)
    if data.get("cidr") is None and pool is None:
        raise bad_request("Failed to parse request. Required attribute 'cidr' not specified")
    net = await find_network(rt, c, str(data["network_id"]))
    if net["metadata"]["namespace"] != project and not c.is_admin:
        raise policy("create_subnet")
    sid = str(uuid.uuid4())
    cidr = parse_cidr(data["cidr"] if pool is None else await claim_cidr(rt, pool, sid, data))
    try:
        return await _create(rt, c, project, net, data, sid, cidr, pool)
    except BaseException:
        if pool is not None:
            await release_cidr(rt, {"metadata": {"name": sid},
                                    "spec": {"subnetpoolId": pool["metadata"]["name"]}})
        raise


async def _create(rt: Runtime, c: Caller, project: str, net: Obj, data: Obj, sid: str,
                  cidr: ipaddress.IPv4Network, pool: Obj | None) -> Response:
    gateway = parse_gateway(cidr, data["gateway_ip"]) if "gateway_ip" in data else \
        str(IPv4(int(cidr.network_address) + 1))
    pools = parse_pools(cidr, data.get("allocation_pools"), gateway)
    net_id = net["metadata"]["name"]
    spec: Obj = {"name": to_str("name", data.get("name", "")),
                 "description": to_str("description", data.get("description", "")),
                 "networkId": net_id, "ipVersion": 4, "cidr": str(cidr), "gatewayIp": gateway,
                 "allocationPools": pools, "dnsNameservers": parse_dns(
                     data.get("dns_nameservers")),
                 "hostRoutes": parse_routes(data.get("host_routes")),
                 "enableDhcp": to_bool("enable_dhcp", data.get("enable_dhcp", True)),
                 "tags": to_tags(data.get("tags", [])),
                 "subnetpoolId": pool["metadata"]["name"] if pool else None}
    async with _locks[net_id]:
        existing = await rt.objects.list(nm.SUBNET, None,
                                         label_selector=f"{nm.NETWORK_LABEL}={net_id}")
        for other in existing.items:
            if ipaddress.IPv4Network(other["spec"]["cidr"]).overlaps(cidr):
                raise invalid(f"Requested subnet with cidr: {cidr} for network: {net_id} "
                              "overlaps with another subnet.")
        obj = new_object(nm.SUBNET, project, sid, spec, {nm.NETWORK_LABEL: net_id})
        await claim_quota(rt, c, project, "subnet", [obj["metadata"]["name"]])
        try:
            sub = await rt.objects.create(obj)
        except BaseException:
            await release_quota(rt, project, [obj["metadata"]["name"]])
            raise
    if await rt.objects.try_get(nm.NETWORK, net["metadata"]["namespace"], net_id) is None:
        await delete_subnet_object(rt, sub)  # the network went meanwhile
        raise not_found(nm.NETWORK, net_id)
    return JSONResponse({"subnet": subnet_view(sub)}, status_code=201)


async def _writable(rt: Runtime, c: Caller, subnet_id: str, action: str) -> Obj:
    return writable(c, await find_subnet(rt, c, subnet_id), f"{action}_subnet")


async def update(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "subnet")
    for ro in sorted(_READ_ONLY & set(data)):
        raise bad_request(f"Cannot update read-only attribute {ro}")
    check_keys(data, _UPDATE)
    rt = runtime(request)
    sub = await _writable(rt, c, request.path_params["subnet_id"], "update")
    spec = sub["spec"]
    cidr = ipaddress.IPv4Network(spec["cidr"])
    changes: Obj = {}
    if "name" in data:
        changes["name"] = to_str("name", data["name"])
    if "description" in data:
        changes["description"] = to_str("description", data["description"])
    if "enable_dhcp" in data:
        changes["enableDhcp"] = to_bool("enable_dhcp", data["enable_dhcp"])
    gateway = spec.get("gatewayIp")
    if "gateway_ip" in data:
        gateway = parse_gateway(cidr, data["gateway_ip"])
        changes["gatewayIp"] = gateway
    if "allocation_pools" in data:
        changes["allocationPools"] = parse_pools(cidr, data["allocation_pools"], gateway)
    elif "gateway_ip" in data:
        check_gateway_vs_pools(gateway, spec.get("allocationPools") or [])
    if "dns_nameservers" in data:
        changes["dnsNameservers"] = parse_dns(data["dns_nameservers"])
    if "host_routes" in data:
        changes["hostRoutes"] = parse_routes(data["host_routes"])
    sub = await mutate(rt, sub, lambda o: o["spec"].update(changes))
    return JSONResponse({"subnet": subnet_view(sub)})


async def delete(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    sub = await _writable(rt, c, request.path_params["subnet_id"], "delete")
    await delete_subnet(rt, sub)
    return Response(status_code=204)


async def delete_subnet(rt: Runtime, sub: Obj) -> None:
    """SubnetInUse while non-DHCP ports hold addresses on it; the DHCP port lets go."""
    sid = sub["metadata"]["name"]
    allocs = await rt.objects.list(nm.IP_ALLOCATION, None,
                                   label_selector=f"{nm.SUBNET_LABEL}={sid}")
    dhcp: list[Obj] = []
    for a in allocs.items:
        port = await core_ports.port_by_id(rt.objects, a["spec"].get("portId", ""),
                                           a["spec"].get("project"))
        if port is None:
            continue
        if port["spec"].get("deviceOwner") != nm.DHCP_OWNER:
            raise err(409, "SubnetInUse", f"Unable to complete operation on subnet {sid}: "
                                          "One or more ports have an IP allocation from this "
                                          "subnet.")
        dhcp.append(port)
    for port in dhcp:
        keep = [core_ports.FixedIp(f["subnetId"], f["ipAddress"])
                for f in port["spec"].get("fixedIps") or [] if f["subnetId"] != sid]
        try:
            await core_ports.set_fixed_ips(rt.objects, port, keep)
        except Exception:  # noqa: BLE001 - a vanished DHCP port is fine
            await core_ports.delete_port(rt.objects, port)
    await delete_subnet_object(rt, sub)


async def delete_subnet_object(rt: Runtime, sub: Obj) -> None:
    """The subnet and whatever address records are left on it."""
    sid = sub["metadata"]["name"]
    try:
        await rt.objects.delete(nm.SUBNET, sub["metadata"]["namespace"], sid)
    except store.NotFound:
        pass
    await release_quota(rt, sub["metadata"]["namespace"], [sid])
    await release_cidr(rt, sub)
    allocs = await rt.objects.list(nm.IP_ALLOCATION, None,
                                   label_selector=f"{nm.SUBNET_LABEL}={sid}")
    for a in allocs.items:
        try:
            await rt.objects.delete(nm.IP_ALLOCATION, "", a["metadata"]["name"])
        except store.NotFound:
            pass
