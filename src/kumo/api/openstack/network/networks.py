"""Networks: /v2.0/networks — VXLAN segments (VNI claimed via SegmentAllocation)."""

from __future__ import annotations

import contextlib
import random
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import floatingips as core_fips
from kumo.core import ports as core_ports
from kumo.core import rbac
from kumo.core.dns_neutron import check_domain
from kumo.core.errors import DomainError
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
    to_int,
    to_str,
    to_tags,
    visible_networks,
    writable,
)
from .errors import bad_request, err, invalid, not_found, policy
from .lists import by_creation, list_response, shown

Obj = dict[str, Any]
PROVIDER = ("provider:network_type", "provider:segmentation_id", "provider:physical_network")
_CREATE = {"name", "description", "admin_state_up", "shared", "mtu", "port_security_enabled",
           "router:external", "tags", "availability_zone_hints", "project_id", "tenant_id",
           "dns_domain", *PROVIDER}
_UPDATE = {"name", "description", "admin_state_up", "shared", "mtu", "port_security_enabled",
           "router:external", "dns_domain", *PROVIDER}


def network_view(net: Obj, c: Caller, subnets: list[str]) -> Obj:
    spec = net["spec"]
    out = {**standard(net), "name": spec.get("name", ""),
           "admin_state_up": spec.get("adminStateUp", True),
           "mtu": spec.get("mtu", nm.VXLAN_MTU),
           "status": (net.get("status") or {}).get("status", "ACTIVE"),
           "subnets": subnets, "shared": bool(spec.get("shared")),
           "availability_zone_hints": list(spec.get("availabilityZoneHints") or []),
           "availability_zones": [], "ipv4_address_scope": None, "ipv6_address_scope": None,
           "router:external": bool(spec.get("external")),
           "port_security_enabled": spec.get("portSecurityEnabled", True),
           "l2_adjacency": True, "dns_domain": spec.get("dnsDomain") or ""}
    if c.is_admin:
        out.update({"provider:network_type": spec.get("networkType", "vxlan"),
                    "provider:physical_network": None,
                    "provider:segmentation_id": spec.get("segmentationId")})
    return out


async def _subnets_by_network(rt: Runtime,
                              net_ids: set[str] | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if net_ids is not None and len(net_ids) == 1:
        nid = next(iter(net_ids))
        found = await rt.objects.list(nm.SUBNET, None, label_selector=f"{nm.NETWORK_LABEL}={nid}")
    else:
        found = await rt.objects.list(nm.SUBNET, None)
    for s in sorted(found.items, key=lambda s: s["metadata"].get("creationTimestamp", "")):
        out.setdefault(s["spec"]["networkId"], []).append(s["metadata"]["name"])
    return out


async def view_one(rt: Runtime, c: Caller, net: Obj) -> Obj:
    subs = await _subnets_by_network(rt, {net["metadata"]["name"]})
    return network_view(net, c, subs.get(net["metadata"]["name"], []))


# ---- segments ------------------------------------------------------------------
def _segment_name(vni: int) -> str:
    return f"vxlan.{vni}"


async def claim_segment(rt: Runtime, net_id: str, project: str, vni: int | None) -> int:
    """Create the SegmentAllocation: the given VNI (409 if taken) or the lowest free one."""
    def record(v: int) -> Obj:
        return {"apiVersion": "kumo.io/v1", "kind": nm.SEGMENT_ALLOCATION,
                "metadata": {"name": _segment_name(v), "labels": {nm.NETWORK_LABEL: net_id}},
                "spec": {"networkId": net_id, "project": project}}

    if vni is not None:
        try:
            await rt.objects.create(record(vni))
        except store.AlreadyExists:
            raise err(409, "TunnelIdInUse", "Unable to create the network. The tunnel ID "
                                            f"{vni} is in use.") from None
        return vni
    for attempt in range(64):
        taken = {int(o["metadata"]["name"].split(".", 1)[1])
                 for o in (await rt.objects.list(nm.SEGMENT_ALLOCATION, None)).items}
        if attempt == 0:
            candidate = next(v for v in range(nm.VNI_MIN, nm.VNI_MAX + 2) if v not in taken)
        else:
            candidate = random.randint(nm.VNI_MIN, nm.VNI_MAX)
            if candidate in taken:
                continue
        if candidate > nm.VNI_MAX:
            break
        try:
            await rt.objects.create(record(candidate))
            return candidate
        except store.AlreadyExists:
            continue
    raise err(503, "NoNetworkAvailable", "Unable to create the network. No tenant network is "
                                         "available for allocation.")


async def release_segment(rt: Runtime, vni: int | None, net_id: str) -> None:
    if vni is None:
        return
    obj = await rt.objects.try_get(nm.SEGMENT_ALLOCATION, "", _segment_name(vni))
    if obj is not None and obj["spec"].get("networkId") == net_id:
        try:
            await rt.objects.delete(nm.SEGMENT_ALLOCATION, "", _segment_name(vni))
        except store.NotFound:
            pass


# ---- handlers ---------------------------------------------------------------------
def _provider(c: Caller, data: Obj, action: str) -> tuple[str | None, int | None]:
    given = [k for k in PROVIDER if k in data]
    if not given:
        return None, None
    if not c.is_admin:
        raise policy(f"{action}_network:{given[0]}")
    ntype = data.get("provider:network_type")
    if ntype not in (None, "vxlan"):
        raise invalid(f"network_type value '{ntype}' not supported")
    if data.get("provider:physical_network") not in (None, ""):
        raise invalid("provider:physical_network specified for VXLAN network")
    seg = data.get("provider:segmentation_id")
    vni = None if seg is None else to_int("provider:segmentation_id", seg, nm.VNI_MIN,
                                          nm.VNI_MAX)
    return ntype, vni


def dns_domain(value: Any) -> str:
    """dns-integration's ``dns_domain`` (400 when it is no domain name)."""
    try:
        return check_domain(value)
    except DomainError as exc:
        raise invalid(f"Invalid input for dns_domain. Reason: {exc}") from None


def _mtu(value: Any) -> int:
    mtu = to_int("mtu", value, 68, 65535)
    if mtu > nm.VXLAN_MTU:
        raise invalid(f"Requested MTU is too big, maximum is {nm.VXLAN_MTU}")
    return mtu


async def index(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    nets = [n for n in await visible_networks(rt, c) if not n["metadata"].get("deletionTimestamp")]
    subs = await _subnets_by_network(rt)
    views = [network_view(n, c, subs.get(n["metadata"]["name"], []))
             for n in by_creation(nets)]
    return JSONResponse(list_response(request, "networks", views))


async def show(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    net = await find_visible(rt, c, nm.NETWORK, request.path_params["network_id"],
                             visible_networks)
    return shown(request, "network", await view_one(rt, c, net))


async def create(request: Request) -> Response:
    c, data = await create_request(request, "network", _CREATE)
    rt = runtime(request)
    project = check_project(c, data)
    shared = to_bool("shared", data.get("shared", False))
    if shared and not c.is_admin:
        raise policy("create_network:shared")
    external = to_bool("router:external", data.get("router:external", False))
    if external and not c.is_admin:
        raise policy("create_network:router:external")
    _, vni = _provider(c, data, "create")
    spec: Obj = {
        "name": to_str("name", data.get("name", "")),
        "description": to_str("description", data.get("description", "")),
        "adminStateUp": to_bool("admin_state_up", data.get("admin_state_up", True)),
        "shared": shared, "mtu": _mtu(data["mtu"]) if data.get("mtu") is not None
        else nm.VXLAN_MTU, "networkType": "vxlan",
        "portSecurityEnabled": to_bool("port_security_enabled",
                                       data.get("port_security_enabled", True)),
        "external": external, "tags": to_tags(data.get("tags", [])),
        "availabilityZoneHints": list(data.get("availability_zone_hints") or []),
        "dnsDomain": dns_domain(data.get("dns_domain"))}
    net_id = str(uuid.uuid4())
    await claim_quota(rt, c, project, "network", [net_id])
    try:
        vni = await claim_segment(rt, net_id, project, vni)
    except BaseException:
        await release_quota(rt, project, [net_id])
        raise
    spec["segmentationId"] = vni
    labels = {nm.SHARED_LABEL: "true"} if shared else {}
    if external:
        labels[nm.EXTERNAL_LABEL] = "true"
    obj = new_object(nm.NETWORK, project, net_id, spec, labels)
    obj["status"] = {"status": "ACTIVE"}
    try:
        net = await rt.objects.create(obj)
    except BaseException:
        await release_segment(rt, vni, net_id)
        await release_quota(rt, project, [net_id])
        raise
    return JSONResponse({"network": network_view(net, c, [])}, status_code=201)


async def _writable(rt: Runtime, c: Caller, net_id: str, action: str) -> Obj:
    return writable(c, await find_network(rt, c, net_id), f"{action}_network")


async def update(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "network")
    rt = runtime(request)
    net_id = request.path_params["network_id"]
    for ro in ("id", "project_id", "tenant_id", "status", "subnets", "tags"):
        if ro in data:
            raise bad_request(f"Cannot update read-only attribute {ro}")
    check_keys(data, _UPDATE)
    net = await _writable(rt, c, net_id, "update")
    if any(k in data for k in PROVIDER):
        if not c.is_admin:
            raise policy(f"update_network:{next(k for k in PROVIDER if k in data)}")
        spec = net["spec"]
        if data.get("provider:segmentation_id") not in (None, spec.get("segmentationId")) or \
                data.get("provider:network_type") not in (None, "vxlan"):
            raise invalid("Plugin does not support updating the following provider network "
                          "attributes: provider:segmentation_id")
    changes: Obj = {}
    if "name" in data:
        changes["name"] = to_str("name", data["name"])
    if "description" in data:
        changes["description"] = to_str("description", data["description"])
    if "admin_state_up" in data:
        changes["adminStateUp"] = to_bool("admin_state_up", data["admin_state_up"])
    if "port_security_enabled" in data:
        changes["portSecurityEnabled"] = to_bool("port_security_enabled",
                                                 data["port_security_enabled"])
    if "mtu" in data:
        changes["mtu"] = _mtu(data["mtu"])
    if "dns_domain" in data:
        changes["dnsDomain"] = dns_domain(data["dns_domain"])
    if "router:external" in data:
        changes["external"] = await _external_change(rt, c, net, data["router:external"])
    if "shared" in data:
        shared = to_bool("shared", data["shared"])
        if shared != bool(net["spec"].get("shared")):
            if not c.is_admin:
                raise policy("update_network:shared")
            if not shared:
                ports = await rt.objects.list(nm.PORT, None,
                                              label_selector=f"{nm.NETWORK_LABEL}={net_id}")
                owner = net["metadata"]["namespace"]
                if any(p["metadata"]["namespace"] != owner for p in ports.items):
                    raise err(409, "InvalidSharedSetting",
                              f"Unable to reconfigure sharing settings for network {net_id}. "
                              "Multiple tenants are using it.")
        changes["shared"] = shared

    def apply(obj: Obj) -> None:
        obj["spec"].update(changes)
        labels = obj["metadata"].setdefault("labels", {})
        for flag, label in (("shared", nm.SHARED_LABEL), ("external", nm.EXTERNAL_LABEL)):
            if obj["spec"].get(flag):
                labels[label] = "true"
            else:
                labels.pop(label, None)

    net = await mutate(rt, net, apply)
    return JSONResponse({"network": await view_one(rt, c, net)})


async def _external_change(rt: Runtime, c: Caller, net: Obj, value: Any) -> bool:
    """Admins only; an external network in use by gateways or floating IPs stays one."""
    external = to_bool("router:external", value)
    if external == bool(net["spec"].get("external")):
        return external
    if not c.is_admin:
        raise policy("update_network:router:external")
    if not external:
        ports = await rt.objects.list(nm.PORT, None, label_selector=(
            f"{nm.NETWORK_LABEL}={net['metadata']['name']}"))
        if any(p["spec"].get("deviceOwner") in (nm.ROUTER_GATEWAY_OWNER, nm.FLOATING_IP_OWNER)
               for p in ports.items):
            raise err(409, "ExternalNetworkInUse", "External network "
                      f"{net['metadata']['name']} cannot be updated, as it is used by one or "
                      "more routers or floating IPs.")
    return external


async def delete(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    net_id = request.path_params["network_id"]
    net = await _writable(rt, c, net_id, "delete")
    await delete_network(rt, net)
    return Response(status_code=204)


async def delete_network(rt: Runtime, net: Obj) -> None:
    """NetworkInUse while non-DHCP ports exist; else the network and all it holds go."""
    from . import subnets as network_subnets

    net_id = net["metadata"]["name"]
    selector = f"{nm.NETWORK_LABEL}={net_id}"

    def in_use(ports: list[Obj]) -> bool:  # DHCP and floating-IP ports go with it
        return any(p["spec"].get("deviceOwner") not in (nm.DHCP_OWNER, nm.FLOATING_IP_OWNER)
                   for p in ports)

    ports = (await rt.objects.list(nm.PORT, None, label_selector=selector)).items
    if in_use(ports):
        raise err(409, "NetworkInUse", f"Unable to complete operation on network {net_id}. "
                                       "There are one or more ports still in use on the "
                                       "network.")
    try:
        await rt.objects.delete(nm.NETWORK, net["metadata"]["namespace"], net_id)
    except store.NotFound:
        raise not_found(nm.NETWORK, net_id) from None
    await release_quota(rt, net["metadata"]["namespace"], [net_id])
    for fip in (await rt.objects.list(nm.FLOATING_IP, None)).items:  # an external network's
        if fip["spec"].get("floatingNetworkId") == net_id:
            with contextlib.suppress(DomainError):
                await core_fips.delete_fip(rt.objects, fip)
    # Whatever raced in (the DHCP port, a port created meanwhile) goes with the network.
    for port in (await rt.objects.list(nm.PORT, None, label_selector=selector)).items:
        await core_ports.delete_port(rt.objects, port)
    for sub in (await rt.objects.list(nm.SUBNET, None, label_selector=selector)).items:
        await network_subnets.delete_subnet_object(rt, sub)
    await rbac.drop_policies(rt.objects, net_id)
    for mac in (await rt.objects.list(nm.MAC_ALLOCATION, None, label_selector=selector)).items:
        try:
            await rt.objects.delete(nm.MAC_ALLOCATION, "", mac["metadata"]["name"])
        except store.NotFound:
            pass
    await release_segment(rt, net["spec"].get("segmentationId"), net_id)
