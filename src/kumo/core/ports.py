"""Port lifecycle, for every caller alike: the Neutron face, Nova (ports it makes for a
server or claims from a tenant), the DHCP scheduler and the port releaser.

A create checks everything first, then counts its quota and claims its MAC and
addresses by creating allocation records (core/ipam.py), side by side, then writes the
Port and its quota record side by side (core/port_claims.py: two commit waits, not
five); any failure releases what was claimed. A crash between the claims and the Port
write leaves allocation records without a port: control/allocations.py collects them
after a grace period.

    create_port(objects, actor, PortRequest) -> Port     (Neutron POST, Nova's ports)
    create_system_port(objects, project, ...) -> Port    kumo's own (DHCP): no quota, no groups
    update_port(objects, actor, port, PortUpdate) -> Port
    set_fixed_ips(objects, port, [FixedIp]) -> Port       as kumo (DHCP port, subnet delete)
    bind(objects, port, host)                            the DHCP scheduler's binding
    claim(objects, port, server_id, owner) -> Port       a tenant's port given to a server
    release(objects, port)                               delete (made for a server) or unbind
    delete_port(objects, port)                           the port and its claims go
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from kumo import store
from kumo.common.clock import now_seconds_iso
from kumo.model import compute as cm
from kumo.model import network as nm

from . import ipam, port_claims, quotas
from .actor import Actor
from .errors import ConcurrentChange, Conflict, Forbidden, InUse
from .port_rules import (
    FixedIp,
    PortRequest,
    PortUpdate,
    check_create_policy,
    check_fixed_ip_policy,
    create_groups,
    find_network,
    network_gone,
    plan_fixed_ips,
    port_not_found,
    resolve_fixed_ips,
    subnets_of,
)
from .secgroups import resolve_groups

Obj = dict[str, Any]
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
BOUND_AT = "kumo.io/bound-at"

__all__ = ["FixedIp", "PortRequest", "PortUpdate", "bind", "claim", "create_port",
           "create_system_port", "delete_port", "find_network", "labels_of", "port_by_id",
           "release", "set_fixed_ips", "subnets_of", "system_port_id", "update_port"]


def labels_of(spec: Obj) -> dict[str, str]:
    """The labels agents and controllers select ports by."""
    labels = {nm.NETWORK_LABEL: spec["networkId"]}
    if spec.get("deviceId") and _LABEL_VALUE.match(spec["deviceId"]):
        labels[nm.DEVICE_LABEL] = spec["deviceId"]
    owner = nm.owner_label(spec.get("deviceOwner") or "")
    if owner and _LABEL_VALUE.match(owner):
        labels[nm.OWNER_LABEL] = owner
    if spec.get("bindingHostId") and _LABEL_VALUE.match(spec["bindingHostId"]):
        labels[cm.HOST_LABEL] = spec["bindingHostId"]
    return labels


def _relabel(obj: Obj) -> None:
    labels = obj["metadata"].setdefault("labels", {})
    for key in (nm.DEVICE_LABEL, nm.OWNER_LABEL, cm.HOST_LABEL):
        labels.pop(key, None)
    labels.update(labels_of(obj["spec"]))


async def port_by_id(objects: store.ObjectStore, port_id: str,
                     project: str | None = None) -> Obj | None:
    """A port by id, looked up in ``project`` first, then anywhere."""
    if project:
        found = await objects.try_get(nm.PORT, project, port_id)
        if found is not None:
            return found
    for p in (await objects.list(nm.PORT, None)).items:
        if p["metadata"]["name"] == port_id:
            return p
    return None


# ---- create -------------------------------------------------------------------------
async def _plan_create(objects: store.ObjectStore, actor: Actor, req: PortRequest
                       ) -> tuple[Obj, Obj, list[Obj], list[tuple[Obj, str | None]], bool]:
    """Every check before a claim: (network, spec, subnets, wanted addresses, auto)."""
    actor.require_write("create_port")
    net = await find_network(objects, actor, req.network_id)
    net_id = net["metadata"]["name"]
    check_create_policy(actor, net, req)
    subnets = await subnets_of(objects, net_id)
    if req.fixed_ips is not None:
        wanted, auto = resolve_fixed_ips(req.fixed_ips, subnets, net_id), False
        check_fixed_ip_policy(actor, net, wanted)
    else:
        wanted, auto = [], bool(subnets)
    port_security = req.port_security_enabled
    if port_security is None:
        port_security = net["spec"].get("portSecurityEnabled", True)
    groups = await create_groups(objects, actor, req, port_security)
    spec: Obj = {"name": req.name, "description": req.description, "networkId": net_id,
                 "deviceId": req.device_id, "deviceOwner": req.device_owner,
                 "adminStateUp": req.admin_state_up, "securityGroups": groups,
                 "allowedAddressPairs": req.allowed_address_pairs,
                 "portSecurityEnabled": port_security, "tags": req.tags,
                 "bindingHostId": req.binding_host_id or None}
    if req.auto_delete:
        spec["autoDelete"] = True
    if req.dns_name:
        spec["dnsName"] = req.dns_name
    return net, spec, subnets, wanted, auto


async def create_port(objects: store.ObjectStore, actor: Actor, req: PortRequest) -> Obj:
    """Check, claim quota, MAC and addresses, write the Port: all or nothing."""
    net, spec, subnets, wanted, auto = await _plan_create(objects, actor, req)
    net_id, project = spec["networkId"], req.project
    port_id = req.port_id if req.port_id and actor.system else str(uuid.uuid4())
    held = port_claims.Held()
    try:
        await port_claims.claim_all(objects, actor, req, net_id, subnets, wanted, auto,
                                    port_id, held)
        spec["macAddress"] = held.mac
        spec["fixedIps"] = [{"subnetId": s, "ipAddress": i} for s, i in held.ips]
        port = await port_claims.write_port(objects, project, {
            "apiVersion": "kumo.io/v1", "kind": nm.PORT,
            "metadata": {"name": port_id, "namespace": project, "labels": labels_of(spec)},
            "spec": spec, "status": {"status": "DOWN"}}, held)
    except BaseException:
        await port_claims.unclaim(objects, project, net_id, port_id, held)
        raise
    if await objects.try_get(nm.NETWORK, net["metadata"]["namespace"], net_id) is None:
        await delete_port(objects, port)  # the network was deleted meanwhile
        raise network_gone(net_id)
    return port


def system_port_id(network_id: str, device_id: str) -> str:
    """The id of kumo's own port for ``device_id`` on a network: deterministic, so the
    name is the claim (a retry or a second scheduler finds it, never makes a twin)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kumo.io/system-port/{network_id}/{device_id}"))


async def create_system_port(objects: store.ObjectStore, project: str, network_id: str, *,
                             device_owner: str, device_id: str,
                             subnet_ids: list[str]) -> Obj:
    """A port kumo makes for itself (DHCP) in ``project``: no quota, no security groups,
    one address of each subnet in ``subnet_ids``, id ``system_port_id`` (AlreadyExists
    from the store when it is there)."""
    req = PortRequest(network_id=network_id, project=project, device_owner=device_owner,
                      device_id=device_id, fixed_ips=[FixedIp(s) for s in subnet_ids],
                      port_id=system_port_id(network_id, device_id))
    return await create_port(objects, Actor.kumo(project), req)


# ---- update -------------------------------------------------------------------------
def _check_security(spec0: Obj, upd: PortUpdate, groups: list[str]) -> None:
    port_security = upd.spec.get("portSecurityEnabled", spec0.get("portSecurityEnabled", True))
    if groups and not port_security:
        raise Conflict("Port has security group associated. Cannot disable port security or "
                       "ip address until security group is removed",
                       code="PortSecurityPortHasSecurityGroup")
    if upd.spec.get("allowedAddressPairs", spec0.get("allowedAddressPairs")) and \
            not port_security:
        raise Conflict("Port Security must be enabled in order to have allowed address pairs "
                       "on a port.", code="AddressPairAndPortSecurityRequired")


async def _claim_new_ips(objects: store.ObjectStore, actor: Actor, port: Obj,
                         wanted: list[FixedIp], claimed: list[tuple[str, str]]) -> list[Obj]:
    """The port's new fixedIps: addresses it holds are kept, new ones claimed."""
    md, spec0 = port["metadata"], port["spec"]
    subnets = await subnets_of(objects, spec0["networkId"])
    resolved = resolve_fixed_ips(wanted, subnets, spec0["networkId"])
    held = [(f["subnetId"], f["ipAddress"]) for f in spec0.get("fixedIps") or []]
    plan = plan_fixed_ips(resolved, held)
    if any(ip is not None and not kept for _, ip, kept in plan) and not (
            actor.is_admin or actor.system or actor.sees(md["namespace"])):
        raise Forbidden("rule:update_port:fixed_ips:ip_address is disallowed by policy",
                        rule="update_port:fixed_ips:ip_address")
    out: list[Obj] = []
    for sub, ip, kept in plan:
        sid = sub["metadata"]["name"]
        if kept:
            assert ip is not None
            out.append({"subnetId": sid, "ipAddress": ip})
            continue
        before = len(claimed)
        await port_claims.claim_ips(objects, [(sub, ip)], md["name"], md["namespace"], claimed)
        out.append({"subnetId": sid, "ipAddress": claimed[before][1]})
    return out


async def update_port(objects: store.ObjectStore, actor: Actor, port: Obj,
                      upd: PortUpdate) -> Obj:
    """Apply ``upd`` (CAS, retried); new addresses are claimed first, dropped ones freed."""
    md, spec0 = port["metadata"], port["spec"]
    project, port_id = md["namespace"], md["name"]
    changes = dict(upd.spec)
    groups = spec0.get("securityGroups") or []
    if upd.security_groups is not None:
        groups = changes["securityGroups"] = await resolve_groups(
            objects, project, upd.security_groups)
    _check_security(spec0, upd, groups)
    claimed: list[tuple[str, str]] = []
    before: list[Obj] = []

    def change(obj: Obj) -> None:
        before[:] = obj["spec"].get("fixedIps") or []
        obj["spec"].update(changes)
        _relabel(obj)
        obj["metadata"].setdefault("annotations", {})[nm.ANN_UPDATED] = now_seconds_iso()

    try:
        if upd.fixed_ips is not None:
            changes["fixedIps"] = await _claim_new_ips(objects, actor, port, upd.fixed_ips,
                                                       claimed)
        updated = await objects.mutate(nm.PORT, project, port_id, change, current=port)
    except store.NotFound:
        await port_claims.release_ips(objects, claimed, port_id)
        raise port_not_found(port_id) from None
    except store.Conflict:
        await port_claims.release_ips(objects, claimed, port_id)
        raise ConcurrentChange(f"Port {port_id} is being changed concurrently; try again.",
                               code="Conflict", kind=nm.PORT, ident=port_id) from None
    except BaseException:
        await port_claims.release_ips(objects, claimed, port_id)
        raise
    if "fixedIps" in changes:
        keep = {(f["subnetId"], f["ipAddress"]) for f in changes["fixedIps"]}
        await port_claims.release_ips(objects, [(f["subnetId"], f["ipAddress"]) for f in before
                                     if (f["subnetId"], f["ipAddress"]) not in keep], port_id)
    return updated


async def set_fixed_ips(objects: store.ObjectStore, port: Obj, fixed_ips: list[FixedIp]) -> Obj:
    """As kumo: the port's addresses become ``fixed_ips`` (held ones kept)."""
    md = port["metadata"]
    fresh = await objects.try_get(nm.PORT, md["namespace"], md["name"])
    if fresh is None:
        raise port_not_found(md["name"])
    return await update_port(objects, Actor.kumo(md["namespace"]), fresh,
                             PortUpdate(fixed_ips=fixed_ips))


# ---- binding, claims, release ---------------------------------------------------------
async def bind(objects: store.ObjectStore, port: Obj, host: str) -> Obj | None:
    """Bind the port to ``host`` (the agent there plugs it); None if the port is gone."""
    def change(obj: Obj) -> None:
        obj["spec"]["bindingHostId"] = host
        obj["metadata"].setdefault("labels", {})[cm.HOST_LABEL] = host

    md = port["metadata"]
    try:
        return await objects.mutate(nm.PORT, md["namespace"], md["name"], change)
    except store.NotFound:
        return None


async def claim(objects: store.ObjectStore, port: Obj, server_id: str, owner: str) -> Obj:
    """Give an existing, unused port to a server (CAS: two servers never share it)."""
    md = port["metadata"]

    def change(obj: Obj) -> None:
        spec = obj["spec"]
        if spec.get("deviceId") and spec["deviceId"] != server_id:
            raise InUse(f"Port {md['name']} is still in use.", kind=nm.PORT, ident=md["name"])
        spec["deviceId"], spec["deviceOwner"] = server_id, owner
        labels = obj["metadata"].setdefault("labels", {})
        labels[nm.DEVICE_LABEL] = server_id
        labels[nm.OWNER_LABEL] = nm.owner_label(owner)
        obj["metadata"].setdefault("annotations", {})[BOUND_AT] = store.now_iso()

    try:
        return await objects.mutate(nm.PORT, md["namespace"], md["name"], change)
    except store.NotFound:
        raise port_not_found(md["name"]) from None
    except store.Conflict:
        raise ConcurrentChange(f"Port {md['name']} is being changed concurrently; try again.",
                               kind=nm.PORT, ident=md["name"]) from None


async def release(objects: store.ObjectStore, port: Obj) -> None:
    """Delete a port made for a server (``autoDelete``); unbind one the tenant brought."""
    if port["spec"].get("autoDelete"):
        await delete_port(objects, port)
        return

    def change(obj: Obj) -> None:
        obj["spec"].update({"deviceId": "", "deviceOwner": "", "bindingHostId": None})
        labels = obj["metadata"].get("labels") or {}
        for key in (nm.DEVICE_LABEL, nm.OWNER_LABEL, cm.HOST_LABEL):
            labels.pop(key, None)
        obj["status"] = {**(obj.get("status") or {}), "status": "DOWN", "pluggedHost": None}

    md = port["metadata"]
    try:
        await objects.mutate(nm.PORT, md["namespace"], md["name"], change)
    except (store.NotFound, store.Conflict):
        pass


async def delete_port(objects: store.ObjectStore, port: Obj) -> None:
    """Delete the port (if still there) and release its addresses and MAC."""
    md, spec = port["metadata"], port["spec"]
    current = await objects.try_get(nm.PORT, md["namespace"], md["name"])
    if current is not None:
        spec = current["spec"]
        try:
            await objects.delete(nm.PORT, md["namespace"], md["name"])
        except store.NotFound:
            pass
    await port_claims.release_ips(objects, [(f["subnetId"], f["ipAddress"])
                                 for f in spec.get("fixedIps") or []], md["name"])
    await ipam.release_mac(objects, spec["networkId"], spec["macAddress"], md["name"])
    await quotas.release(objects, md["namespace"], quotas.NETWORK, [md["name"]])
