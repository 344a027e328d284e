"""Floating IPs: an address on an external network, mapped (DNAT + SNAT) to a port's
fixed IP by the router that connects the two.

The address is held by a ``network:floatingip`` port on the external network, in that
network's project (never bound to a host: the router's namespace answers for it).
Association finds the router with a gateway on the floating network and an interface
on the port's subnet (Neutron's ExternalGatewayForFloatingIPNotFound otherwise) and
labels the FloatingIP with it, so the router's host agent watches only its own.

    create_fip(objects, actor, FipRequest) -> FloatingIP
    associate(objects, actor, fip, port_id | None, fixed_ip | None) -> FloatingIP
    delete_fip(objects, fip)
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
from .routers import external_network, router_ports

Obj = dict[str, Any]


@dataclass
class FipRequest:
    project: str
    network_id: str
    subnet_id: str | None = None
    address: str | None = None  # admins only
    port_id: str | None = None
    fixed_ip: str | None = None
    description: str = ""
    tags: list[str] = field(default_factory=list)
    dns_name: str = ""  # dns-integration: published by control/dns_neutron
    dns_domain: str = ""


def fip_not_found(fip_id: str) -> NotFound:
    return NotFound(f"Floating IP {fip_id} could not be found", code="FloatingIPNotFound",
                    kind=nm.FLOATING_IP, ident=fip_id)


async def _address_port(objects: store.ObjectStore, actor: Actor, fip_id: str,
                        req: FipRequest) -> Obj:
    net = await external_network(objects, req.network_id)
    if req.address is not None:
        actor.require_admin("create_floatingip:floating_ip_address")
    fixed = None
    if req.subnet_id is not None or req.address is not None:
        fixed = [core_ports.FixedIp(req.subnet_id, req.address)]
    owner = net["metadata"]["namespace"]
    port = await core_ports.create_port(objects, Actor.kumo(owner), core_ports.PortRequest(
        network_id=req.network_id, project=owner, device_owner=nm.FLOATING_IP_OWNER,
        device_id=fip_id, fixed_ips=fixed, security_groups=[], port_security_enabled=False))
    if not port["spec"].get("fixedIps"):
        await core_ports.delete_port(objects, port)
        raise Invalid(f"No IPv4 subnet on external network {req.network_id}",
                      code="BadRequest")
    return port


async def create_fip(objects: store.ObjectStore, actor: Actor, req: FipRequest) -> Obj:
    """Count, claim the address (its port), write the FIP, associate if asked."""
    actor.require_write("create_floatingip")
    fip_id = str(uuid.uuid4())
    limits = None if actor.system else await quotas.network_limit(objects, req.project,
                                                                   "floatingip")
    await quotas.claim(objects, req.project, quotas.NETWORK, {fip_id: {"floatingip": 1}},
                       limits)
    port = None
    try:
        port = await _address_port(objects, actor, fip_id, req)
        f = port["spec"]["fixedIps"][0]
        fip = await objects.create({
            "apiVersion": "kumo.io/v1", "kind": nm.FLOATING_IP,
            "metadata": {"name": fip_id, "namespace": req.project, "labels": {}},
            "spec": {"floatingNetworkId": req.network_id, "floatingSubnetId": f["subnetId"],
                     "floatingIpAddress": f["ipAddress"], "fipPortId": port["metadata"]["name"],
                     "portId": None, "fixedIpAddress": None, "routerId": None,
                     "description": req.description, "tags": req.tags,
                     "dnsName": req.dns_name, "dnsDomain": req.dns_domain},
            "status": {"status": "DOWN"}})
    except BaseException:
        if port is not None:
            await core_ports.delete_port(objects, port)
        await quotas.release(objects, req.project, quotas.NETWORK, [fip_id])
        raise
    if req.port_id is not None:
        try:
            fip = await associate(objects, actor, fip, req.port_id, req.fixed_ip)
        except BaseException:
            await delete_fip(objects, fip)
            raise
    return fip


def _pick_fixed_ip(port: Obj, fixed_ip: str | None) -> tuple[str, str]:
    fixed = port["spec"].get("fixedIps") or []
    pid = port["metadata"]["name"]
    if fixed_ip is not None:
        hit = next((f for f in fixed if f["ipAddress"] == fixed_ip), None)
        if hit is None:
            raise Invalid(f"Port {pid} does not have fixed ip {fixed_ip}", code="BadRequest")
        return hit["subnetId"], fixed_ip
    v4 = [f for f in fixed if ipaddress.ip_address(f["ipAddress"]).version == 4]
    if not v4:
        raise Invalid(f"Bad floatingip request: Port {pid} does not have any IPv4 address. "
                      "Cannot associate with a Floating IP.", code="BadRequest")
    if len(v4) > 1:
        raise Invalid(f"Port {pid} has multiple fixed IPv4 addresses. Must provide a "
                      "specific IPv4 address when assigning a floating IP", code="BadRequest")
    return v4[0]["subnetId"], v4[0]["ipAddress"]


async def _router_for(objects: store.ObjectStore, ext_net: str, subnet_id: str,
                      port_id: str) -> str:
    """The router with a gateway on ``ext_net`` and an interface on ``subnet_id``."""
    found = await objects.list(nm.PORT, None, label_selector=(
        f"{nm.OWNER_LABEL}={nm.owner_label(nm.ROUTER_INTERFACE_OWNER)}"))
    for leg in found.items:
        if subnet_id not in {f["subnetId"] for f in leg["spec"].get("fixedIps") or []}:
            continue
        router_id = leg["spec"]["deviceId"]
        if any(p["spec"].get("deviceOwner") == nm.ROUTER_GATEWAY_OWNER
               and p["spec"]["networkId"] == ext_net
               for p in await router_ports(objects, router_id)):
            return str(router_id)
    raise NotFound(f"External network {ext_net} is not reachable from subnet {subnet_id}. "
                   f"Therefore, cannot associate Port {port_id} with a Floating IP.",
                   code="ExternalGatewayForFloatingIPNotFound")


async def _check_free(objects: store.ObjectStore, fip: Obj, port_id: str, ip: str) -> None:
    net = fip["spec"]["floatingNetworkId"]
    for other in (await objects.list(nm.FLOATING_IP, None)).items:
        o = other["spec"]
        if other["metadata"]["name"] != fip["metadata"]["name"] and o.get("portId") == \
                port_id and o.get("fixedIpAddress") == ip and o["floatingNetworkId"] == net:
            raise Conflict(f"Cannot associate floating IP {fip['spec']['floatingIpAddress']} "
                           f"({fip['metadata']['name']}) with port {port_id} using fixed IP "
                           f"{ip}, as that fixed IP already has a floating IP on external "
                           f"network {net}.", code="FloatingIPPortAlreadyAssociated")


async def associate(objects: store.ObjectStore, actor: Actor, fip: Obj, port_id: str | None,
                    fixed_ip: str | None = None) -> Obj:
    """Map the FIP to ``port_id`` (its one IPv4 address or ``fixed_ip``); None unmaps."""
    target: Obj = {"portId": None, "fixedIpAddress": None, "routerId": None}
    if port_id is not None:
        port = await core_ports.port_by_id(objects, port_id, actor.project_id)
        if port is None or not actor.sees(port["metadata"]["namespace"]):
            raise NotFound(f"Port {port_id} could not be found.", code="PortNotFound",
                           kind=nm.PORT, ident=port_id)
        subnet_id, ip = _pick_fixed_ip(port, fixed_ip)
        await _check_free(objects, fip, port_id, ip)
        router_id = await _router_for(objects, fip["spec"]["floatingNetworkId"], subnet_id,
                                      port_id)
        target = {"portId": port_id, "fixedIpAddress": ip, "routerId": router_id}

    def apply(obj: Obj) -> None:
        obj["spec"].update(target)
        labels = obj["metadata"].setdefault("labels", {})
        labels.pop(nm.ROUTER_LABEL, None)
        if target["routerId"]:
            labels[nm.ROUTER_LABEL] = target["routerId"]
        obj["metadata"].setdefault("annotations", {})[nm.ANN_UPDATED] = now_seconds_iso()
        obj["status"] = {**(obj.get("status") or {}), "status": "DOWN"}

    md = fip["metadata"]
    try:
        return await objects.mutate(nm.FLOATING_IP, md["namespace"], md["name"], apply,
                                    current=fip)
    except store.NotFound:
        raise fip_not_found(md["name"]) from None
    except store.Conflict:
        raise ConcurrentChange(f"Floating IP {md['name']} is being changed concurrently; try "
                               "again.", kind=nm.FLOATING_IP, ident=md["name"]) from None


async def delete_fip(objects: store.ObjectStore, fip: Obj) -> None:
    """The FIP, its address port and its quota claim go."""
    md = fip["metadata"]
    try:
        await objects.delete(nm.FLOATING_IP, md["namespace"], md["name"])
    except store.NotFound:
        raise fip_not_found(md["name"]) from None
    port = await core_ports.port_by_id(objects, fip["spec"].get("fipPortId") or "")
    if port is not None:
        await core_ports.delete_port(objects, port)
    await quotas.release(objects, md["namespace"], quotas.NETWORK, [md["name"]])
