"""A router's interfaces: add_router_interface / remove_router_interface, by subnet or
by port, with Neutron's refusals (no gateway, subnet already attached, overlapping
CIDRs on one router, port in use, interface needed by a floating IP or a route).

By subnet, kumo makes a ``network:router_interface`` port in the router's project
holding the subnet's gateway IP (``ipam.claim_gateway_ip``); by port, the tenant's
port is claimed for the router (CAS: it cannot be given to a server at the same time).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from kumo import store
from kumo.model import network as nm

from . import ipam
from . import ports as core_ports
from .actor import Actor
from .errors import Conflict, InUse, NotFound
from .routers import bad, router_ports, subnets_by_id

Obj = dict[str, Any]


@dataclass
class Interface:
    """What add/remove_router_interface answer."""

    router_id: str
    project: str
    port_id: str
    network_id: str
    subnet_id: str
    subnet_ids: list[str]


async def _subnet(objects: store.ObjectStore, actor: Actor, subnets: dict[str, Obj],
                  subnet_id: str) -> Obj:
    """``subnets[subnet_id]`` if the actor may attach it (own, shared network, admin)."""
    sub = subnets.get(subnet_id)
    if sub is not None and not actor.is_admin and sub["metadata"]["namespace"] != \
            actor.project_id:
        net = await objects.try_get(nm.NETWORK, sub["metadata"]["namespace"],
                                    sub["spec"]["networkId"])
        if not (net or {}).get("spec", {}).get("shared"):
            sub = None
    if sub is None:
        raise NotFound(f"Subnet {subnet_id} could not be found.", code="SubnetNotFound",
                       kind=nm.SUBNET, ident=subnet_id)
    return sub


async def _check_new_subnets(objects: store.ObjectStore, router_id: str,
                             new: list[Obj], subnets: dict[str, Obj]) -> None:
    """Not attached yet, and no overlap with what the router already reaches."""
    for port in await router_ports(objects, router_id):
        if port["spec"].get("deviceOwner") != nm.ROUTER_INTERFACE_OWNER:
            continue
        for f in port["spec"].get("fixedIps") or []:
            have = subnets.get(f["subnetId"])
            if have is None:
                continue
            for sub in new:
                sid = sub["metadata"]["name"]
                if sid == f["subnetId"]:
                    raise bad(f"Router already has a port on subnet {sid}")
                a = ipaddress.IPv4Network(sub["spec"]["cidr"])
                b = ipaddress.IPv4Network(have["spec"]["cidr"])
                if a.overlaps(b):
                    raise bad(f"Cidr {a} of subnet {sid} overlaps with cidr {b} of subnet "
                              f"{f['subnetId']}")


async def add_by_subnet(objects: store.ObjectStore, actor: Actor, router: Obj,
                        subnet_id: str) -> Interface:
    router_id, project = router["metadata"]["name"], router["metadata"]["namespace"]
    subnets = await subnets_by_id(objects)
    sub = await _subnet(objects, actor, subnets, subnet_id)
    if not sub["spec"].get("gatewayIp"):
        raise bad(f"Bad router request: Subnet {subnet_id} does not have a gateway IP.")
    await _check_new_subnets(objects, router_id, [sub], subnets)
    net_id = sub["spec"]["networkId"]
    req = core_ports.PortRequest(network_id=net_id, project=project,
                                 device_owner=nm.ROUTER_INTERFACE_OWNER, device_id=router_id,
                                 fixed_ips=[], security_groups=[],
                                 port_security_enabled=False)
    port = await core_ports.create_port(objects, Actor.kumo(project), req)
    pid = port["metadata"]["name"]
    try:
        ip = await ipam.claim_gateway_ip(objects, sub, pid, project)
        await objects.mutate(nm.PORT, project, pid, lambda o: o["spec"].__setitem__(
            "fixedIps", [{"subnetId": subnet_id, "ipAddress": ip}]))
    except BaseException:
        await core_ports.delete_port(objects, port)
        raise
    return Interface(router_id, project, pid, net_id, subnet_id, [subnet_id])


async def add_by_port(objects: store.ObjectStore, actor: Actor, router: Obj,
                      port_id: str) -> Interface:
    router_id, project = router["metadata"]["name"], router["metadata"]["namespace"]
    port = await core_ports.port_by_id(objects, port_id, actor.project_id)
    if port is None or not actor.sees(port["metadata"]["namespace"]):
        raise NotFound(f"Port {port_id} could not be found.", code="PortNotFound",
                       kind=nm.PORT, ident=port_id)
    spec = port["spec"]
    if spec.get("deviceId"):
        raise InUse(f"Unable to complete operation on port {port_id} for network "
                    f"{spec['networkId']}. Port already has an attached device "
                    f"{spec['deviceId']}.", code="PortInUse")
    fixed = spec.get("fixedIps") or []
    if not fixed:
        raise bad("Bad router request: Router port must have at least one fixed IP")
    subnets = await subnets_by_id(objects)
    subs = [await _subnet(objects, Actor.kumo(), subnets, f["subnetId"]) for f in fixed]
    await _check_new_subnets(objects, router_id, subs, subnets)
    await core_ports.claim(objects, port, router_id, nm.ROUTER_INTERFACE_OWNER)
    ids = [f["subnetId"] for f in fixed]
    return Interface(router_id, project, port_id, spec["networkId"], ids[0], ids)


async def _check_unused(objects: store.ObjectStore, router: Obj, port: Obj) -> None:
    router_id = router["metadata"]["name"]
    fixed = port["spec"].get("fixedIps") or []
    subnets = await subnets_by_id(objects)
    cidrs = [ipaddress.IPv4Network(subnets[f["subnetId"]]["spec"]["cidr"])
             for f in fixed if f["subnetId"] in subnets]
    fips = await objects.list(nm.FLOATING_IP, None,
                              label_selector=f"{nm.ROUTER_LABEL}={router_id}")
    for fip in fips.items:
        ip = fip["spec"].get("fixedIpAddress")
        if ip and any(ipaddress.IPv4Address(ip) in c for c in cidrs):
            raise Conflict(f"Router interface for subnet {fixed[0]['subnetId']} on router "
                           f"{router_id} cannot be deleted, as it is required by one or "
                           "more floating IPs.", code="RouterInterfaceInUseByFloatingIP")
    for r in router["spec"].get("routes") or []:
        if any(ipaddress.IPv4Address(r["nexthop"]) in c for c in cidrs):
            raise Conflict(f"Router interface for subnet {fixed[0]['subnetId']} on router "
                           f"{router_id} cannot be deleted, as it is required by one or "
                           "more routes.", code="RouterInterfaceInUseByRoute")


async def remove(objects: store.ObjectStore, router: Obj, subnet_id: str | None,
                 port_id: str | None) -> Interface:
    router_id, project = router["metadata"]["name"], router["metadata"]["namespace"]
    legs = [p for p in await router_ports(objects, router_id)
            if p["spec"].get("deviceOwner") == nm.ROUTER_INTERFACE_OWNER]
    if port_id is not None:
        port = next((p for p in legs if p["metadata"]["name"] == port_id), None)
        if port is None:
            raise NotFound(f"Router {router_id} does not have an interface with id "
                           f"{port_id}", code="RouterInterfaceNotFound")
        if subnet_id is not None and subnet_id not in {
                f["subnetId"] for f in port["spec"].get("fixedIps") or []}:
            raise Conflict(f"Subnet {subnet_id} is not attached to port {port_id}",
                           code="SubnetMismatchForPort")
    else:
        port = next((p for p in legs if subnet_id in {
            f["subnetId"] for f in p["spec"].get("fixedIps") or []}), None)
        if port is None:
            raise NotFound(f"Router {router_id} has no interface on subnet {subnet_id}",
                           code="RouterInterfaceNotFoundForSubnet")
    await _check_unused(objects, router, port)
    await core_ports.delete_port(objects, port)
    ids = [f["subnetId"] for f in port["spec"].get("fixedIps") or []]
    return Interface(router_id, project, port["metadata"]["name"], port["spec"]["networkId"],
                     ids[0] if ids else "", ids)
