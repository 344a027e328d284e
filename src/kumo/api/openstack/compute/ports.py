"""Nova ↔ Neutron: a server's requested networks become Ports, and back.

At create the facade checks every requested network, port and fixed IP, then
(after validation) makes one port per ``net-id``/``v4-fixed-ip`` request through
the domain's port lifecycle (kumo.core.ports) — the same code path as ``openstack
port create`` — or claims a ``port-id``. Ports it made carry ``autoDelete`` and go with the
server; claimed ports are only unbound (control/ports.py does both once the
server is gone). ``Server.spec.ports`` is the ordered NIC list the host agent
plugs; ``os-interface`` edits it, and the agent hot-plugs the difference.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import errors as domain
from kumo.core import ports as core_ports
from kumo.model import compute as cm
from kumo.model import network as nm

from ...auth import AuthContext
from ...common import actor_of
from ...errors import ApiError, from_domain_error
from ...runtime import Runtime, runtime
from .common import (
    bad,
    body_of_any,
    caller,
    conflict,
    find_server,
    forbidden,
    instance_not_found,
    mutate,
    not_found,
    project_of,
    require_member,
    stamp_updated,
)
from .microversion import at_least

Obj = dict[str, Any]
_NET_KEYS = {"uuid", "port", "fixed_ip", "tag"}


@dataclass
class Requested:
    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    security_groups: list[str] | None = None  # ids; None: the project's default


def parse_networks(request: Request, nets: Any) -> str | list[Requested]:
    """'none', 'auto' or the explicit list, validated as Nova's schema does."""
    if nets is None:
        if at_least(request, "2.37"):
            raise bad("Invalid input for field/attribute server. Value: {...}. "
                      "'networks' is a required property")
        return "auto"
    if isinstance(nets, str):
        if not at_least(request, "2.37"):
            raise bad(f"Invalid input for field/attribute networks. Value: {nets}. "
                      f"'{nets}' is not of type 'array'")
        if nets not in ("none", "auto"):
            raise bad(f"Invalid input for field/attribute networks. Value: {nets}. "
                      f"'{nets}' is not one of ['none', 'auto']")
        return nets
    if not isinstance(nets, list) or not all(isinstance(n, dict) for n in nets):
        raise bad(f"Invalid input for field/attribute networks. Value: {nets}. "
                  f"{nets} is not valid under any of the given schemas")
    if not nets:
        return "auto"
    out = []
    for n in nets:
        extra = set(n) - _NET_KEYS
        if extra:
            raise bad(f"Invalid input for field/attribute networks. Value: {nets}. Additional "
                      f"properties are not allowed ('{sorted(extra)[0]}' was unexpected)")
        req = Requested(n.get("uuid") or None, n.get("port") or None, n.get("fixed_ip") or None)
        if req.fixed_ip is not None:
            try:
                ipaddress.IPv4Address(req.fixed_ip)
            except ValueError as exc:
                raise bad(f"Invalid fixed IP address ({req.fixed_ip})") from exc
        if req.port_id is None and req.network_id is None:
            raise bad("Bad networks format: network uuid is not in proper format ()")
        out.append(req)
    return out


async def _visible_network(rt: Runtime, ctx: AuthContext, net_id: str) -> Obj | None:
    found = await rt.objects.list(nm.NETWORK, None)
    for net in found.items:
        if net["metadata"]["name"] != net_id:
            continue
        if ctx.is_admin or net["metadata"]["namespace"] == ctx.project_id or \
                net["spec"].get("shared"):
            return net
    return None


async def _find_port(rt: Runtime, ctx: AuthContext, port_id: str) -> Obj | None:
    port = await rt.objects.try_get(nm.PORT, project_of(ctx), port_id)
    if port is None and ctx.is_admin:
        for p in (await rt.objects.list(nm.PORT, None)).items:
            if p["metadata"]["name"] == port_id:
                return p
    return port


async def resolve(rt: Runtime, ctx: AuthContext, nets: str | list[Requested],
                  count: int) -> str | list[Requested]:
    """Check what was asked for; 'auto' becomes the project's only network (or none)."""
    if nets == "none":
        return "none"
    if nets == "auto":
        found = await rt.objects.list(nm.NETWORK, None)
        usable = [n for n in found.items if (n["metadata"]["namespace"] == ctx.project_id
                  or n["spec"].get("shared")) and not n["spec"].get("external")]  # not `public`
        if not usable:
            return "none"
        if len(usable) > 1:
            raise conflict("Multiple possible networks found, use a Network ID to be more "
                           "specific.")
        return [Requested(network_id=usable[0]["metadata"]["name"])]
    assert isinstance(nets, list)
    for req in nets:
        if req.port_id:
            if count > 1:
                raise bad("Unable to launch multiple instances with a single configured "
                          "port ID. Please launch your instance one by one with different "
                          "ports.")
            port = await _find_port(rt, ctx, req.port_id)
            if port is None:
                raise bad(f"Port {req.port_id} could not be found.")
            if port["spec"].get("deviceId"):
                raise conflict(f"Port {req.port_id} is still in use.")
            req.network_id = port["spec"]["networkId"]
        elif req.network_id:
            if await _visible_network(rt, ctx, req.network_id) is None:
                raise bad(f"Network {req.network_id} could not be found.")
            if req.fixed_ip and count > 1:
                raise bad("max_count cannot be greater than 1 if an fixed_ip is specified.")
    return nets


def _nova_error(exc: ApiError) -> ApiError:
    """A refusal during server create, in Nova's terms."""
    if exc.reason == "OverQuota":
        return forbidden(f"Maximum number of ports exceeded: {exc.message}")
    if exc.status == 404:
        return bad(exc.message)
    if exc.reason == "IpAddressAlreadyAllocated":
        return bad(f"Fixed IP address is already in use on instance: {exc.message}")
    return ApiError(400 if exc.status < 500 else exc.status, exc.message)


def _port_error(exc: domain.DomainError) -> ApiError:
    """A domain refusal of a port create or claim, as Neutron's status and type (which
    ``_nova_error`` turns into Nova's answer)."""
    if isinstance(exc, domain.QuotaExceeded):
        return ApiError(409, exc.message, reason="OverQuota")
    if exc.code == "MacAddressGenerationFailure":
        return ApiError(503, exc.message, reason=exc.code)
    return from_domain_error(exc)


async def allocate(rt: Runtime, ctx: AuthContext, nets: str | list[Requested], server_id: str,
                   zone: str | None) -> list[str]:
    """Make or claim the ports of one server; all or nothing."""
    if nets == "none" or nets == "auto":
        return []
    made: list[Obj] = []
    claimed: list[Obj] = []
    owner = nm.COMPUTE_OWNER_PREFIX + (zone or "nova")
    try:
        ids = []
        for req in nets:
            if req.port_id:
                port = await _find_port(rt, ctx, req.port_id)
                if port is None:
                    raise bad(f"Port {req.port_id} could not be found.")
                port = await claim_port(rt, port, server_id, owner)
                claimed.append(port)
                ids.append(req.port_id)
                continue
            port = await create_server_port(rt, ctx, req, server_id, owner)
            made.append(port)
            ids.append(port["metadata"]["name"])
        return ids
    except (ApiError, domain.DomainError) as exc:
        await _undo(rt, made, claimed)
        api = _port_error(exc) if isinstance(exc, domain.DomainError) else exc
        raise _nova_error(api) if api.status < 500 and "badRequest" not in api.message \
            else api from exc
    except BaseException:
        await _undo(rt, made, claimed)
        raise


async def _undo(rt: Runtime, made: list[Obj], claimed: list[Obj]) -> None:
    for port in made:
        await release_port(rt, port)
    for port in claimed:
        await release_port(rt, port)


async def claim_port(rt: Runtime, port: Obj, server_id: str, owner: str) -> Obj:
    """Give an existing, unused port to a server (CAS: two servers never share it)."""
    return await core_ports.claim(rt.objects, port, server_id, owner)


# ---- the Neutron side ---------------------------------------------------------------
async def create_server_port(rt: Runtime, ctx: AuthContext, req: Requested, server_id: str,
                             owner: str) -> Obj:
    """A port made for a server by the domain's port create, marked to go with it."""
    fixed = [core_ports.FixedIp(ip_address=req.fixed_ip)] if req.fixed_ip else None
    assert req.network_id is not None
    return await core_ports.create_port(rt.objects, actor_of(ctx), core_ports.PortRequest(
        network_id=req.network_id, project=project_of(ctx), device_id=server_id,
        device_owner=owner, fixed_ips=fixed, auto_delete=True,
        security_groups=req.security_groups))


async def release_port(rt: Runtime, port: Obj) -> None:
    """Delete a port made for a server; unbind one the tenant brought."""
    await core_ports.release(rt.objects, port)


async def release_ports(rt: Runtime, namespace: str, port_ids: list[str]) -> None:
    for pid in port_ids:
        port = await rt.objects.try_get(nm.PORT, namespace, pid)
        if port is not None:
            await release_port(rt, port)


# ---- addresses in the server view ---------------------------------------------------
async def addresses_for(rt: Runtime, servers: list[Obj]) -> dict[str, Obj]:
    """{server id: Nova 'addresses'} from the ports bound to each server."""
    if not servers:
        return {}
    wanted = {s["metadata"]["name"]: s for s in servers if s["spec"].get("ports")}
    if not wanted:
        return {}
    ports: list[Obj] = []
    fips: dict[str, list[str]] = {}  # port id -> its floating addresses (Nova shows them)
    for ns in {s["metadata"]["namespace"] for s in wanted.values()}:
        ports += (await rt.objects.list(nm.PORT, ns)).items
        for fip in (await rt.objects.list(nm.FLOATING_IP, ns)).items:
            if fip["spec"].get("portId"):
                fips.setdefault(fip["spec"]["portId"], []).append(
                    fip["spec"]["floatingIpAddress"])
    names = {n["metadata"]["name"]: n["spec"].get("name") or n["metadata"]["name"]
             for n in (await rt.objects.list(nm.NETWORK, None)).items}
    by_id = {p["metadata"]["name"]: p for p in ports}
    out: dict[str, Obj] = {}
    for sid, server in wanted.items():
        addrs: Obj = {}
        for pid in server["spec"]["ports"]:
            port = by_id.get(pid)
            if port is None or port["spec"].get("deviceId") != sid:
                continue
            net = names.get(port["spec"]["networkId"], port["spec"]["networkId"])
            for f in port["spec"].get("fixedIps") or []:
                addrs.setdefault(net, []).append({
                    "version": 4, "addr": f["ipAddress"], "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port["spec"]["macAddress"]})
            for addr in fips.get(pid, []):
                addrs.setdefault(net, []).append({
                    "version": 4, "addr": addr, "OS-EXT-IPS:type": "floating",
                    "OS-EXT-IPS-MAC:mac_addr": port["spec"]["macAddress"]})
        out[sid] = addrs
    return out


# ---- os-interface ---------------------------------------------------------------------
def _attachment(port: Obj) -> Obj:
    st = port.get("status") or {}
    return {"net_id": port["spec"]["networkId"], "port_id": port["metadata"]["name"],
            "mac_addr": port["spec"]["macAddress"], "port_state": st.get("status", "DOWN"),
            "fixed_ips": [{"subnet_id": f.get("subnetId"), "ip_address": f.get("ipAddress")}
                          for f in port["spec"].get("fixedIps") or []]}


async def _server_ports(rt: Runtime, server: Obj) -> list[Obj]:
    ns = server["metadata"]["namespace"]
    out = []
    for pid in server["spec"].get("ports") or []:
        port = await rt.objects.try_get(nm.PORT, ns, pid)
        if port is not None:
            out.append(port)
    return out


async def list_interfaces(request: Request) -> Response:
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    ports = await _server_ports(runtime(request), server)
    return JSONResponse({"interfaceAttachments": [_attachment(p) for p in ports]})


async def show_interface(request: Request) -> Response:
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    pid = request.path_params["port_id"]
    for port in await _server_ports(runtime(request), server):
        if port["metadata"]["name"] == pid:
            return JSONResponse({"interfaceAttachment": _attachment(port)})
    raise not_found(f"Port {pid} is not attached")


async def attach_interface(request: Request) -> Response:
    ctx = await caller(request)
    require_member(ctx, "os_compute_api:os-attach-interfaces:create")
    server = await find_server(request, ctx, request.path_params["server_id"])
    data = (await body_of_any(request)).get("interfaceAttachment")
    if not isinstance(data, dict):
        raise bad("Invalid input for field/attribute interfaceAttachment.")
    status = server.get("status") or {}
    if status.get("vmState") not in ("active", "stopped", "paused"):
        raise conflict(f"Cannot 'attach_interface' instance {server['metadata']['name']} "
                       f"while it is in vm_state {status.get('vmState')}")
    ips = data.get("fixed_ips") or []
    req = Requested(network_id=data.get("net_id") or None, port_id=data.get("port_id") or None,
                    fixed_ip=ips[0].get("ip_address") if ips and isinstance(ips[0], dict)
                    else None)
    if req.port_id and req.network_id:
        raise bad("Must not input both network_id and port_id")
    rt = runtime(request)
    if not req.port_id and not req.network_id:
        resolved = await resolve(rt, ctx, "auto", 1)
        if resolved == "none":
            raise bad("No network available to attach to")
        assert isinstance(resolved, list)
        req = resolved[0]
    else:
        await resolve(rt, ctx, [req], 1)
    sid = server["metadata"]["name"]
    zone = server["spec"].get("availabilityZone")
    port_ids = await allocate(rt, ctx, [req], sid, zone)

    def add(obj: Obj) -> None:
        obj["spec"]["ports"] = [*(obj["spec"].get("ports") or []), *port_ids]
        stamp_updated(obj)

    try:
        await mutate(rt.objects, cm.SERVER, server["metadata"]["namespace"], sid, add,
                     instance_not_found(sid))
    except BaseException:
        for pid in port_ids:
            port = await rt.objects.try_get(nm.PORT, server["metadata"]["namespace"], pid)
            if port is not None:
                await release_port(rt, port)
        raise
    port = await rt.objects.get(nm.PORT, server["metadata"]["namespace"], port_ids[0])
    return JSONResponse({"interfaceAttachment": _attachment(port)})


async def detach_interface(request: Request) -> Response:
    ctx = await caller(request)
    require_member(ctx, "os_compute_api:os-attach-interfaces:delete")
    server = await find_server(request, ctx, request.path_params["server_id"])
    pid = request.path_params["port_id"]
    if pid not in (server["spec"].get("ports") or []):
        raise not_found(f"Port {pid} is not attached")
    rt = runtime(request)

    def remove(obj: Obj) -> None:
        obj["spec"]["ports"] = [p for p in obj["spec"].get("ports") or [] if p != pid]
        stamp_updated(obj)

    await mutate(rt.objects, cm.SERVER, server["metadata"]["namespace"],
                 server["metadata"]["name"], remove, instance_not_found(server["metadata"]["name"]))
    port = await rt.objects.try_get(nm.PORT, server["metadata"]["namespace"], pid)
    if port is not None:
        await release_port(rt, port)
    return Response(status_code=202)
