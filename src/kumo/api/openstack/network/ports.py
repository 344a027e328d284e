"""Ports: /v2.0/ports, and the coroutines other parts of kumo make ports with.

A port create validates everything first, then claims its MAC and addresses by
creating allocation records (network_ipam.py), then writes the Port; any failure
releases what was claimed. Public API (the compute facade, the DHCP scheduler):

    create_port(rt, ctx, body) -> Port object      as POST /v2.0/ports, for ``ctx``
    update_port(rt, ctx, port_id, body) -> Port    as PUT
    delete_port(rt, ctx, port_id)                  as DELETE (PortNotFound...)
    delete_port_object(rt, port)                   no checks: the port and its claims go
    create_system_port(rt, project, body) -> Port  kumo's own (DHCP): no quota, no groups
    update_system_port(rt, port, body) -> Port
    port_view(obj, ctx) -> dict                    the Neutron JSON
"""

from __future__ import annotations

import copy
import ipaddress
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import compute as cm
from kumo.model import network as nm

from ...auth import AuthContext
from ...runtime import Runtime, runtime
from . import ipam
from .common import (
    CAS_ATTEMPTS,
    Caller,
    bad_request,
    body_of,
    by_creation,
    caller,
    check_keys,
    check_project,
    check_quota,
    err,
    fields_of,
    find_network,
    invalid,
    list_response,
    new_object,
    not_found,
    policy,
    select_fields,
    stamp,
    standard,
    to_bool,
    to_str,
    to_tags,
)
from .secgroups import ensure_default

Obj = dict[str, Any]
MAX_ADDRESS_PAIRS = 10
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
BINDING_ADMIN = ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details")
_CREATE = {"name", "description", "network_id", "mac_address", "fixed_ips", "device_id",
           "device_owner", "admin_state_up", "security_groups", "allowed_address_pairs",
           "port_security_enabled", "tags", "project_id", "tenant_id", "binding:host_id",
           "binding:vnic_type", "binding:profile"}
_UPDATE = {"name", "description", "fixed_ips", "device_id", "device_owner", "admin_state_up",
           "security_groups", "allowed_address_pairs", "port_security_enabled",
           "binding:host_id", "binding:vnic_type", "binding:profile"}
_READ_ONLY = {"id", "network_id", "project_id", "tenant_id", "status", "mac_address",
              "binding:vif_type", "binding:vif_details", "tags"}


# ---- views -------------------------------------------------------------------------
def port_view(obj: Obj, ctx: AuthContext | Caller) -> Obj:
    spec = obj["spec"]
    st = obj.get("status") or {}
    host = spec.get("bindingHostId") or ""
    out = {**standard(obj), "name": spec.get("name", ""), "network_id": spec["networkId"],
           "mac_address": spec["macAddress"], "admin_state_up": spec.get("adminStateUp", True),
           "status": st.get("status") or "DOWN", "device_id": spec.get("deviceId", ""),
           "device_owner": spec.get("deviceOwner", ""),
           "fixed_ips": [{"subnet_id": f["subnetId"], "ip_address": f["ipAddress"]}
                         for f in spec.get("fixedIps") or []],
           "allowed_address_pairs": [{"ip_address": p["ipAddress"],
                                      "mac_address": p.get("macAddress") or spec["macAddress"]}
                                     for p in spec.get("allowedAddressPairs") or []],
           "security_groups": list(spec.get("securityGroups") or []),
           "port_security_enabled": spec.get("portSecurityEnabled", True),
           "binding:vnic_type": "normal", "ip_allocation": "immediate"}
    if ctx.is_admin:
        out.update({"binding:host_id": host, "binding:profile": {},
                    "binding:vif_type": (st.get("vifType") or "bridge") if host else "unbound",
                    "binding:vif_details": {}})
    return out


# ---- lookups -----------------------------------------------------------------------
async def port_by_id(rt: Runtime, port_id: str, project: str | None = None) -> Obj | None:
    if project:
        found = await rt.objects.try_get(nm.PORT, project, port_id)
        if found is not None:
            return found
    for p in (await rt.objects.list(nm.PORT, None)).items:
        if p["metadata"]["name"] == port_id:
            return p
    return None


async def visible_ports(rt: Runtime, c: Caller) -> list[Obj]:
    """Own ports, plus others' ports on the caller's (shared) networks."""
    if c.is_admin:
        return (await rt.objects.list(nm.PORT, None)).items
    own = (await rt.objects.list(nm.PORT, c.project_id)).items
    seen = {p["metadata"]["name"] for p in own}
    shared = await rt.objects.list(nm.NETWORK, c.project_id,
                                   label_selector=f"{nm.SHARED_LABEL}=true")
    for net in shared.items:
        found = await rt.objects.list(nm.PORT, None, label_selector=(
            f"{nm.NETWORK_LABEL}={net['metadata']['name']}"))
        own += [p for p in found.items if p["metadata"]["name"] not in seen]
    return own


async def find_port(rt: Runtime, c: Caller, port_id: str) -> Obj:
    port = await rt.objects.try_get(nm.PORT, c.project_id, port_id)
    if port is None:
        port = next((p for p in await visible_ports(rt, c)
                     if p["metadata"]["name"] == port_id), None)
    if port is None:
        raise not_found(nm.PORT, port_id)
    return port


# ---- request parsing ----------------------------------------------------------------
async def _subnets_of(rt: Runtime, net_id: str) -> list[Obj]:
    found = await rt.objects.list(nm.SUBNET, None, label_selector=f"{nm.NETWORK_LABEL}={net_id}")
    return sorted(found.items, key=lambda s: (s["metadata"].get("creationTimestamp", ""),
                                              s["metadata"]["name"]))


def _parse_fixed_ips(value: Any, subnets: list[Obj], net_id: str) -> list[tuple[Obj, str | None]]:
    """[(subnet, ip or None)] for a fixed_ips request, checked against the network."""
    if not isinstance(value, list):
        raise invalid(f"Invalid input for fixed_ips. Reason: '{value}' is not a list.")
    by_id = {s["metadata"]["name"]: s for s in subnets}
    out: list[tuple[Obj, str | None]] = []
    for entry in value:
        if not isinstance(entry, dict) or not set(entry) <= {"subnet_id", "ip_address"}:
            raise invalid(f"Invalid input for fixed_ips. Reason: '{entry}' is not a valid "
                          "fixed IP request.")
        sid, ip = entry.get("subnet_id"), entry.get("ip_address")
        if ip is not None:
            try:
                addr = ipaddress.ip_address(ip)
            except (ValueError, TypeError) as exc:
                raise invalid(f"Invalid input for fixed_ips. Reason: '{ip}' is not a valid "
                              "IP address.") from exc
            ip = str(addr)
        if sid is not None:
            sub = by_id.get(str(sid))
            if sub is None:
                raise invalid(f"Failed to create port on network {net_id}, because fixed_ips "
                              f"included invalid subnet {sid}.")
            if ip is not None and (addr.version != 4 or not ipam.valid_for_subnet(sub, ip)):
                raise err(400, "InvalidIpForSubnet",
                          f"IP address {ip} is not a valid IP for the specified subnet.")
        elif ip is not None:
            sub = next((s for s in subnets if addr.version == 4
                        and ipam.valid_for_subnet(s, ip)), None)
            if sub is None:
                raise err(400, "InvalidIpForNetwork",
                          f"IP address {ip} is not a valid IP for any of the subnets on the "
                          "specified network.")
        else:
            raise invalid("Invalid input for fixed_ips. Reason: each entry needs subnet_id or "
                          "ip_address.")
        if ip is not None and any(s is sub and i == ip for s, i in out):
            raise invalid(f"Duplicate IP address '{ip}'.")
        out.append((sub, ip))
    return out


def _parse_pairs(value: Any) -> list[Obj]:
    if not isinstance(value, list):
        raise invalid(f"Invalid input for allowed_address_pairs. Reason: '{value}' is not a "
                      "list.")
    out: list[Obj] = []
    for pair in value:
        if not isinstance(pair, dict) or "ip_address" not in pair or \
                not set(pair) <= {"ip_address", "mac_address"}:
            raise err(400, "AllowedAddressPairsMissingIP",
                      "AllowedAddressPair must contain ip_address")
        try:
            ip = str(ipaddress.ip_network(pair["ip_address"], strict=False))
        except (ValueError, TypeError) as exc:
            raise invalid(f"Invalid input for allowed_address_pairs. Reason: "
                          f"'{pair['ip_address']}' is not a valid IP address.") from exc
        if ip.endswith("/32"):
            ip = ip[:-3]
        rec = {"ipAddress": ip, "macAddress": ipam.normalise_mac(pair["mac_address"])
               if pair.get("mac_address") else None}
        if rec in out:
            raise err(400, "DuplicateAddressPairInRequest",
                      f"Request contains duplicate address pair: mac_address "
                      f"{rec['macAddress']} ip_address {ip}.")
        out.append(rec)
    if len(out) > MAX_ADDRESS_PAIRS:
        raise err(400, "AllowedAddressPairExhausted",
                  f"The number of allowed address pair exceeds the maximum "
                  f"{MAX_ADDRESS_PAIRS}.")
    return out


async def _parse_groups(rt: Runtime, c: Caller, project: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise invalid(f"Invalid input for security_groups. Reason: '{value}' is not a list.")
    out: list[str] = []
    for gid in value:
        gid = str(gid)
        if gid == nm.default_security_group_id(project):
            await ensure_default(rt, project)
        if await rt.objects.try_get(nm.SECURITY_GROUP, project, gid) is None:
            raise not_found(nm.SECURITY_GROUP, gid)
        if gid not in out:
            out.append(gid)
    return out


def _labels(spec: Obj) -> dict[str, str]:
    labels = {nm.NETWORK_LABEL: spec["networkId"]}
    if spec.get("deviceId") and _LABEL_VALUE.match(spec["deviceId"]):
        labels[nm.DEVICE_LABEL] = spec["deviceId"]
    owner = nm.owner_label(spec.get("deviceOwner") or "")
    if owner and _LABEL_VALUE.match(owner):
        labels[nm.OWNER_LABEL] = owner
    if spec.get("bindingHostId") and _LABEL_VALUE.match(spec["bindingHostId"]):
        labels[cm.HOST_LABEL] = spec["bindingHostId"]
    return labels


def _check_binding(c: Caller, data: Obj, action: str) -> None:
    for key in ("binding:host_id", "binding:profile"):
        if key in data and not c.is_admin:
            raise policy(f"{action}_port:{key}")
    if data.get("binding:profile") not in (None, {}):
        raise invalid("binding:profile is not supported by kumo.")
    vnic = data.get("binding:vnic_type")
    if vnic not in (None, "normal"):
        raise invalid(f"Invalid input for binding:vnic_type. Reason: {vnic} is not in "
                      "['normal'].")


# ---- create ---------------------------------------------------------------------------
async def _create(rt: Runtime, c: Caller, data: Obj, project: str | None = None) -> Obj:
    check_keys(data, _CREATE)
    if not c.system:
        c.require_write("create_port")
    project = project or check_project(c, data)
    if not data.get("network_id"):
        raise bad_request("Failed to parse request. Required attribute 'network_id' not "
                          "specified")
    net = await find_network(rt, c, str(data["network_id"]))
    net_id = net["metadata"]["name"]
    net_owner = c.is_admin or net["metadata"]["namespace"] == c.project_id
    _check_binding(c, data, "create")
    owner = to_str("device_owner", data.get("device_owner", ""))
    if owner.startswith("network:") and not net_owner:
        raise policy("create_port:device_owner")
    if "mac_address" in data and not net_owner:
        raise policy("create_port:mac_address")
    mac = ipam.normalise_mac(data["mac_address"]) if data.get("mac_address") else None
    subnets = await _subnets_of(rt, net_id)
    if "fixed_ips" in data and data["fixed_ips"] is not None:
        wanted = _parse_fixed_ips(data["fixed_ips"], subnets, net_id)
        if any(ip is not None for _, ip in wanted) and not net_owner:
            raise policy("create_port:fixed_ips:ip_address")
        auto = False
    else:
        wanted, auto = [], bool(subnets)
    port_security = to_bool("port_security_enabled", data.get(
        "port_security_enabled", net["spec"].get("portSecurityEnabled", True)))
    if "security_groups" in data and data["security_groups"] is not None:
        groups = await _parse_groups(rt, c, project, data["security_groups"])
    elif port_security and not c.system:
        groups = [await ensure_default(rt, project)]
    else:
        groups = []
    if groups and not port_security:
        raise err(400, "PortSecurityAndIPRequiredForSecurityGroups",
                  "Port security must be enabled and port must have an IP address in order "
                  "to use security groups.")
    pairs = _parse_pairs(data.get("allowed_address_pairs") or [])
    if pairs and not port_security:
        raise err(409, "AddressPairAndPortSecurityRequired",
                  "Port Security must be enabled in order to have allowed address pairs on "
                  "a port.")
    host = data.get("binding:host_id") or None
    spec: Obj = {"name": to_str("name", data.get("name", "")),
                 "description": to_str("description", data.get("description", "")),
                 "networkId": net_id, "deviceId": to_str("device_id", data.get("device_id", "")),
                 "deviceOwner": owner,
                 "adminStateUp": to_bool("admin_state_up", data.get("admin_state_up", True)),
                 "securityGroups": groups, "allowedAddressPairs": pairs,
                 "portSecurityEnabled": port_security, "tags": to_tags(data.get("tags", [])),
                 "bindingHostId": to_str("binding:host_id", host) if host else None}
    await check_quota(rt, c, project, "port")
    port_id = str(uuid.uuid4())
    claimed: list[tuple[str, str]] = []
    mac_claimed: str | None = None
    try:
        mac_claimed = await ipam.claim_mac(rt, net_id, mac, port_id, project)
        if auto:
            ip, sub = await _allocate_any(rt, subnets, port_id, project, net_id)
            claimed.append((sub["metadata"]["name"], ip))
        for sub, ip in wanted:
            if ip is None:
                got = await ipam.allocate_ip(rt, sub, port_id, project)
            else:
                got = await ipam.claim_ip(rt, sub, ip, port_id, project)
            claimed.append((sub["metadata"]["name"], got))
        spec["macAddress"] = mac_claimed
        spec["fixedIps"] = [{"subnetId": s, "ipAddress": i} for s, i in claimed]
        obj = new_object(nm.PORT, project, port_id, spec, _labels(spec))
        obj["status"] = {"status": "DOWN"}
        port = await rt.objects.create(obj)
    except BaseException:
        for sid, ip in claimed:
            await ipam.release_ip(rt, sid, ip, port_id)
        if mac_claimed:
            await ipam.release_mac(rt, net_id, mac_claimed, port_id)
        raise
    if await rt.objects.try_get(nm.NETWORK, net["metadata"]["namespace"], net_id) is None:
        await delete_port_object(rt, port)  # the network was deleted meanwhile
        raise not_found(nm.NETWORK, net_id)
    return port


async def _allocate_any(rt: Runtime, subnets: list[Obj], port_id: str, project: str,
                        net_id: str) -> tuple[str, Obj]:
    """One address from the first subnet that has one free."""
    for sub in subnets:
        try:
            return await ipam.allocate_ip(rt, sub, port_id, project), sub
        except Exception as exc:
            if getattr(exc, "reason", None) != "IpAddressGenerationFailure":
                raise
    raise ipam.no_more_ips(net_id)


async def create_port(rt: Runtime, ctx: AuthContext, body: Obj) -> Obj:
    """POST /v2.0/ports for ``ctx``: the stored Port object (ApiError with Neutron types)."""
    return await _create(rt, Caller.of(ctx), dict(body))


async def create_system_port(rt: Runtime, project: str, body: Obj) -> Obj:
    """A port kumo makes for itself (DHCP) in ``project``: no quota, no security groups."""
    return await _create(rt, Caller.kumo(project), dict(body), project)


# ---- update -------------------------------------------------------------------------------
async def _update(rt: Runtime, c: Caller, port: Obj, data: Obj) -> Obj:
    for ro in sorted(_READ_ONLY & set(data)):
        if ro == "mac_address" and data[ro] == port["spec"]["macAddress"]:
            continue
        raise bad_request(f"Cannot update read-only attribute {ro}")
    check_keys(data, _UPDATE | {"mac_address"})
    if not c.system and (not c.can_write or not c.sees(port)):
        raise policy("update_port")
    _check_binding(c, data, "update")
    spec0 = port["spec"]
    net_id = spec0["networkId"]
    md = port["metadata"]
    project, port_id = md["namespace"], md["name"]
    changes: Obj = {}
    for key, field in (("name", "name"), ("description", "description"),
                       ("device_id", "deviceId"), ("device_owner", "deviceOwner")):
        if key in data:
            changes[field] = to_str(key, data[key])
    if "admin_state_up" in data:
        changes["adminStateUp"] = to_bool("admin_state_up", data["admin_state_up"])
    if "binding:host_id" in data:
        changes["bindingHostId"] = to_str("binding:host_id", data["binding:host_id"]) or None
    port_security = spec0.get("portSecurityEnabled", True)
    if "port_security_enabled" in data:
        port_security = changes["portSecurityEnabled"] = to_bool(
            "port_security_enabled", data["port_security_enabled"])
    groups = spec0.get("securityGroups") or []
    if "security_groups" in data:
        groups = changes["securityGroups"] = await _parse_groups(
            rt, c, project, data["security_groups"] or [])
    if groups and not port_security:
        raise err(409, "PortSecurityPortHasSecurityGroup",
                  "Port has security group associated. Cannot disable port security or ip "
                  "address until security group is removed")
    if "allowed_address_pairs" in data:
        changes["allowedAddressPairs"] = _parse_pairs(data["allowed_address_pairs"] or [])
    if changes.get("allowedAddressPairs", spec0.get("allowedAddressPairs")) and \
            not port_security:
        raise err(409, "AddressPairAndPortSecurityRequired",
                  "Port Security must be enabled in order to have allowed address pairs on "
                  "a port.")
    claimed: list[tuple[str, str]] = []
    new_ips: list[Obj] | None = None
    if "fixed_ips" in data:
        subnets = await _subnets_of(rt, net_id)
        wanted = _parse_fixed_ips(data["fixed_ips"] or [], subnets, net_id)
        held = [(f["subnetId"], f["ipAddress"]) for f in spec0.get("fixedIps") or []]
        free_held = list(held)
        plan: list[tuple[Obj, str | None, bool]] = []  # (subnet, ip, already held)
        for sub, ip in wanted:
            sid = sub["metadata"]["name"]
            if ip is not None and (sid, ip) in free_held:
                free_held.remove((sid, ip))
                plan.append((sub, ip, True))
        for sub, ip in wanted:
            sid = sub["metadata"]["name"]
            if ip is None:
                keep = next(((s, i) for s, i in free_held if s == sid), None)
                if keep is not None:
                    free_held.remove(keep)
                    plan.append((sub, keep[1], True))
                else:
                    plan.append((sub, None, False))
            elif not any(p[0] is sub and p[1] == ip and p[2] for p in plan):
                plan.append((sub, ip, False))
        if any(ip is not None and not held_ for _, ip, held_ in plan) and not (
                c.is_admin or c.sees(port)):
            raise policy("update_port:fixed_ips:ip_address")
        try:
            new_ips = []
            for sub, ip, held_ in plan:
                sid = sub["metadata"]["name"]
                if held_:
                    assert ip is not None
                    new_ips.append({"subnetId": sid, "ipAddress": ip})
                    continue
                got = await (ipam.claim_ip(rt, sub, ip, port_id, project) if ip is not None
                             else ipam.allocate_ip(rt, sub, port_id, project))
                claimed.append((sid, got))
                new_ips.append({"subnetId": sid, "ipAddress": got})
        except BaseException:
            for sid, ip in claimed:
                await ipam.release_ip(rt, sid, ip, port_id)
            raise
    current = port
    try:
        for _ in range(CAS_ATTEMPTS):
            new = copy.deepcopy(current)
            new["spec"].update(changes)
            if new_ips is not None:
                new["spec"]["fixedIps"] = new_ips
            labels = new["metadata"].setdefault("labels", {})
            for key in (nm.DEVICE_LABEL, nm.OWNER_LABEL, cm.HOST_LABEL):
                labels.pop(key, None)
            labels.update(_labels(new["spec"]))
            stamp(new)
            try:
                updated = await rt.objects.update(new)
                break
            except store.Conflict:
                fresh = await rt.objects.try_get(nm.PORT, project, port_id)
                if fresh is None:
                    raise not_found(nm.PORT, port_id) from None
                current = fresh
            except store.NotFound:
                raise not_found(nm.PORT, port_id) from None
        else:
            raise err(409, "Conflict", f"Port {port_id} is being changed concurrently; "
                                       "try again.")
    except BaseException:
        for sid, ip in claimed:
            await ipam.release_ip(rt, sid, ip, port_id)
        raise
    if new_ips is not None:
        keep = {(f["subnetId"], f["ipAddress"]) for f in new_ips}
        for f in current["spec"].get("fixedIps") or []:
            if (f["subnetId"], f["ipAddress"]) not in keep:
                await ipam.release_ip(rt, f["subnetId"], f["ipAddress"], port_id)
    return updated


async def update_port(rt: Runtime, ctx: AuthContext, port_id: str, body: Obj) -> Obj:
    c = Caller.of(ctx)
    return await _update(rt, c, await find_port(rt, c, port_id), dict(body))


async def update_system_port(rt: Runtime, port: Obj, body: Obj) -> Obj:
    fresh = await rt.objects.try_get(nm.PORT, port["metadata"]["namespace"],
                                     port["metadata"]["name"])
    if fresh is None:
        raise not_found(nm.PORT, port["metadata"]["name"])
    return await _update(rt, Caller.kumo(port["metadata"]["namespace"]), fresh, dict(body))


# ---- delete ----------------------------------------------------------------------------------
async def delete_port_object(rt: Runtime, port: Obj) -> None:
    """Delete the port (if still there) and release its addresses and MAC."""
    md, spec = port["metadata"], port["spec"]
    current = await rt.objects.try_get(nm.PORT, md["namespace"], md["name"])
    if current is not None:
        spec = current["spec"]
        try:
            await rt.objects.delete(nm.PORT, md["namespace"], md["name"])
        except store.NotFound:
            pass
    for f in spec.get("fixedIps") or []:
        await ipam.release_ip(rt, f["subnetId"], f["ipAddress"], md["name"])
    await ipam.release_mac(rt, spec["networkId"], spec["macAddress"], md["name"])


async def delete_port(rt: Runtime, ctx: AuthContext, port_id: str) -> None:
    c = Caller.of(ctx)
    port = await find_port(rt, c, port_id)
    if not c.can_write:
        raise policy("delete_port")
    await delete_port_object(rt, port)


# ---- handlers ---------------------------------------------------------------------------------
async def index(request: Request) -> Response:
    c = await caller(request)
    ports = await visible_ports(runtime(request), c)
    views = [port_view(p, c) for p in by_creation(ports)]
    return JSONResponse(list_response(request, "ports", views))


async def show(request: Request) -> Response:
    c = await caller(request)
    port = await find_port(runtime(request), c, request.path_params["port_id"])
    return JSONResponse({"port": select_fields(port_view(port, c), fields_of(request))})


async def create(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "port")
    port = await _create(runtime(request), c, data)
    return JSONResponse({"port": port_view(port, c)}, status_code=201)


async def update(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "port")
    rt = runtime(request)
    port = await find_port(rt, c, request.path_params["port_id"])
    port = await _update(rt, c, port, data)
    return JSONResponse({"port": port_view(port, c)})


async def delete(request: Request) -> Response:
    c = await caller(request)
    rt = runtime(request)
    port = await find_port(rt, c, request.path_params["port_id"])
    if not c.can_write:
        raise policy("delete_port")
    await delete_port_object(rt, port)
    return Response(status_code=204)
