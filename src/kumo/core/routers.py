"""Routers for every caller alike: create, update, delete, the external gateway and
extra routes (interfaces: core/router_interfaces.py).

A router is a ``Router`` object; its legs are Ports whose ``deviceId`` is the router
id (label ``kumo.io/device``): ``network:router_interface`` ports in the router's
project hold a subnet's gateway IP, the ``network:router_gateway`` port holds its
address on the external network and lives in the external network's project (a
tenant never sees or pays for it, as in Neutron). The router scheduler
(control/routers.py) binds the router and its legs to one host; that host's agent
builds the router's namespace.

    create_router(objects, actor, RouterRequest) -> Router
    update_router(objects, actor, router, RouterUpdate) -> Router
    delete_router(objects, actor, router)          RouterInUse while interfaces remain
    router_ports(objects, router_id) -> [Port]
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Any

from kumo import store
from kumo.common.clock import now_seconds_iso
from kumo.model import network as nm

from . import ports as core_ports
from . import quotas
from .actor import Actor
from .errors import ConcurrentChange, Conflict, Invalid, NotFound

Obj = dict[str, Any]
MAX_ROUTES = 30
UNSET: Any = object()  # "not in the request" for fields where null means "remove"


@dataclass
class Gateway:
    """An external gateway request: the network, SNAT, and (admins) fixed IPs."""

    network_id: str
    enable_snat: bool | None = None  # None: the default (True)
    fixed_ips: list[core_ports.FixedIp] | None = None


@dataclass
class RouterRequest:
    project: str
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    gateway: Gateway | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class RouterUpdate:
    spec: Obj = field(default_factory=dict)  # name, description, adminStateUp
    gateway: Any = UNSET  # Gateway, None (clear) or UNSET
    routes: Any = UNSET  # [{destination, nexthop}] or UNSET


def router_not_found(router_id: str) -> NotFound:
    return NotFound(f"Router {router_id} could not be found", code="RouterNotFound",
                    kind=nm.ROUTER, ident=router_id)


def bad(message: str) -> Invalid:
    return Invalid(message, code="BadRequest")


async def router_ports(objects: store.ObjectStore, router_id: str) -> list[Obj]:
    """The router's legs (interfaces and gateway), in any project."""
    found = await objects.list(nm.PORT, None, label_selector=f"{nm.DEVICE_LABEL}={router_id}")
    return [p for p in found.items if p["spec"].get("deviceOwner") in nm.ROUTER_OWNERS]


async def external_network(objects: store.ObjectStore, net_id: str) -> Obj:
    """An external network (router:external) by id, or the error Neutron gives."""
    found = await objects.list(nm.NETWORK, None, label_selector=f"{nm.EXTERNAL_LABEL}=true")
    net = next((n for n in found.items if n["metadata"]["name"] == net_id), None)
    if net is None or net["metadata"].get("deletionTimestamp"):
        if not any(n["metadata"]["name"] == net_id
                   for n in (await objects.list(nm.NETWORK, None)).items):
            raise NotFound(f"Network {net_id} could not be found.", code="NetworkNotFound",
                           kind=nm.NETWORK, ident=net_id)
        raise bad(f"Network {net_id} is not a valid external network")
    return net


# ---- gateway -----------------------------------------------------------------------
async def _gateway_port(objects: store.ObjectStore, actor: Actor, router_id: str,
                        gw: Gateway) -> Obj:
    net = await external_network(objects, gw.network_id)
    if gw.fixed_ips is not None:
        actor.require_admin("create_router:external_gateway_info:external_fixed_ips")
    req = core_ports.PortRequest(
        network_id=net["metadata"]["name"], project=net["metadata"]["namespace"],
        device_owner=nm.ROUTER_GATEWAY_OWNER, device_id=router_id, fixed_ips=gw.fixed_ips,
        security_groups=[], port_security_enabled=False)
    port = await core_ports.create_port(objects, Actor.kumo(net["metadata"]["namespace"]), req)
    if not port["spec"].get("fixedIps"):
        await core_ports.delete_port(objects, port)
        raise bad(f"No IPv4 subnet on external network {gw.network_id}")
    return port


def _gateway_spec(gw: Gateway, port: Obj) -> Obj:
    return {"networkId": gw.network_id,
            "enableSnat": True if gw.enable_snat is None else gw.enable_snat,
            "externalFixedIps": [dict(f) for f in port["spec"]["fixedIps"]]}


async def _drop_gateway_ports(objects: store.ObjectStore, router_id: str,
                              keep: str | None = None) -> None:
    """The router's gateway ports go, but for ``keep`` (a new gateway's port)."""
    for p in await router_ports(objects, router_id):
        if p["spec"].get("deviceOwner") == nm.ROUTER_GATEWAY_OWNER and \
                p["metadata"]["name"] != keep:
            await core_ports.delete_port(objects, p)


async def _fips_via(objects: store.ObjectStore, router_id: str) -> list[Obj]:
    found = await objects.list(nm.FLOATING_IP, None,
                               label_selector=f"{nm.ROUTER_LABEL}={router_id}")
    return found.items


# ---- create, update, delete ------------------------------------------------------------
async def create_router(objects: store.ObjectStore, actor: Actor, req: RouterRequest) -> Obj:
    """Count, write the router, then its gateway port (if asked): all or nothing."""
    actor.require_write("create_router")
    router_id = str(uuid.uuid4())
    limits = None if actor.system else await quotas.network_limit(objects, req.project,
                                                                   "router")
    await quotas.claim(objects, req.project, quotas.NETWORK, {router_id: {"router": 1}}, limits)
    spec: Obj = {"name": req.name, "description": req.description,
                 "adminStateUp": req.admin_state_up, "externalGateway": None, "routes": [],
                 "tags": req.tags}
    port = None
    try:
        if req.gateway is not None:
            port = await _gateway_port(objects, actor, router_id, req.gateway)
            spec["externalGateway"] = _gateway_spec(req.gateway, port)
        return await objects.create({
            "apiVersion": "kumo.io/v1", "kind": nm.ROUTER,
            "metadata": {"name": router_id, "namespace": req.project, "labels": {}},
            "spec": spec, "status": {"status": "ACTIVE"}})
    except BaseException:
        if port is not None:
            await core_ports.delete_port(objects, port)
        await quotas.release(objects, req.project, quotas.NETWORK, [router_id])
        raise


def connected_cidrs(ports: list[Obj], subnets: dict[str, Obj]) -> list[ipaddress.IPv4Network]:
    out = []
    for p in ports:
        for f in p["spec"].get("fixedIps") or []:
            sub = subnets.get(f["subnetId"])
            if sub is not None:
                out.append(ipaddress.IPv4Network(sub["spec"]["cidr"]))
    return out


async def subnets_by_id(objects: store.ObjectStore) -> dict[str, Obj]:
    """Every subnet, by id (a router's legs may be on any project's subnets)."""
    return {s["metadata"]["name"]: s for s in (await objects.list(nm.SUBNET, None)).items}


async def check_routes(objects: store.ObjectStore, router_id: str, routes: list[Obj]) -> None:
    """Each nexthop must sit on a subnet the router is connected to (Neutron's rule)."""
    if len(routes) > MAX_ROUTES:
        raise Conflict(f"Unable to complete operation for {router_id}. The number of routes "
                       f"exceeds the maximum {MAX_ROUTES}.", code="RoutesExhausted")
    cidrs = connected_cidrs(await router_ports(objects, router_id),
                            await subnets_by_id(objects))
    for r in routes:
        hop = ipaddress.IPv4Address(r["nexthop"])
        if not any(hop in c for c in cidrs):
            raise Invalid(f"Invalid format for routes: {r}, the nexthop is not connected "
                          "with router", code="InvalidRoutes")


async def update_router(objects: store.ObjectStore, actor: Actor, router: Obj,
                        upd: RouterUpdate) -> Obj:
    md = router["metadata"]
    router_id = md["name"]
    changes = dict(upd.spec)
    if upd.routes is not UNSET:
        await check_routes(objects, router_id, upd.routes)
        changes["routes"] = upd.routes
    new_port = None
    if upd.gateway is not UNSET:
        current = router["spec"].get("externalGateway")
        if upd.gateway is None or (current and current["networkId"] != upd.gateway.network_id
                                   or upd.gateway.fixed_ips is not None):
            if current and await _fips_via(objects, router_id):
                raise Conflict(f"Gateway cannot be updated for router {router_id}, since a "
                               "gateway to external network "
                               f"{current['networkId']} is required by one or more "
                               "floating IPs.", code="RouterExternalGatewayInUseByFloatingIp")
            current = None
        if upd.gateway is None:
            changes["externalGateway"] = None
        elif current is None:
            new_port = await _gateway_port(objects, actor, router_id, upd.gateway)
            changes["externalGateway"] = _gateway_spec(upd.gateway, new_port)
        else:
            snat = upd.gateway.enable_snat
            changes["externalGateway"] = {**current, "enableSnat": current.get(
                "enableSnat", True) if snat is None else snat}

    def apply(obj: Obj) -> None:
        obj["spec"].update(changes)
        obj["metadata"].setdefault("annotations", {})[nm.ANN_UPDATED] = now_seconds_iso()

    try:
        updated = await objects.mutate(nm.ROUTER, md["namespace"], router_id, apply,
                                       current=router)
    except (store.NotFound, store.Conflict) as exc:
        if new_port is not None:
            await core_ports.delete_port(objects, new_port)
        if isinstance(exc, store.NotFound):
            raise router_not_found(router_id) from None
        raise ConcurrentChange(f"Router {router_id} is being changed concurrently; try "
                               "again.", kind=nm.ROUTER, ident=router_id) from None
    if "externalGateway" in changes and (changes["externalGateway"] is None or new_port):
        await _drop_gateway_ports(objects, router_id,
                                  new_port["metadata"]["name"] if new_port else None)
    return updated


async def delete_router(objects: store.ObjectStore, actor: Actor, router: Obj) -> None:
    """RouterInUse while it has interfaces (or floating IPs through it); else the router,
    its gateway port and its quota claim go."""
    md = router["metadata"]
    router_id = md["name"]
    legs = await router_ports(objects, router_id)
    if any(p["spec"].get("deviceOwner") == nm.ROUTER_INTERFACE_OWNER for p in legs) or \
            await _fips_via(objects, router_id):
        raise Conflict(f"Router {router_id} still has ports", code="RouterInUse",
                       kind=nm.ROUTER, ident=router_id)
    try:
        await objects.delete(nm.ROUTER, md["namespace"], router_id)
    except store.NotFound:
        raise router_not_found(router_id) from None
    await _drop_gateway_ports(objects, router_id)
    await quotas.release(objects, md["namespace"], quotas.NETWORK, [router_id])
