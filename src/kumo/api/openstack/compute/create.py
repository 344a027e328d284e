"""POST /servers: validate everything first, then write Server objects.

Nothing is written until every check passed (flavor, image, keypair, zone,
group, user data, metadata, quotas), so a bad request leaves nothing behind.
The instance quota is claimed as the last check (one CAS on the project's usage,
``kumo.core.quotas``), so racing creates never pass it; a failed create releases
its claim. The only status the facade ever writes is the initial one.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from collections.abc import Awaitable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import compute as cm

from ...auth import AuthContext
from ...runtime import runtime
from . import lookup
from . import ports as compute_ports
from . import secgroups as compute_secgroups
from .common import (
    ANN_HOSTNAME,
    ANN_LAUNCH_INDEX,
    ANN_RESERVATION,
    ANN_UPDATED,
    ANN_USER,
    bad,
    body_of,
    caller,
    compute_root,
    forbidden,
    links,
    project_of,
    request_id,
    require_member,
    sanitize_hostname,
)
from .instance_actions import record_action, record_step
from .microversion import at_least
from .quotas import claim_servers, limits_for, release
from .schemas import CreateBody, ServerCreate, gate

Obj = dict[str, Any]
NO_VOLUMES = "Block device mappings are not available yet: kumo has no volume service."


def _boot_image(server: ServerCreate) -> str:
    """The image to boot: imageRef, or the image-to-local root disk mapping clients send."""
    if server.block_device_mapping:
        raise bad(NO_VOLUMES)
    image = server.imageRef or ""
    for bdm in server.block_device_mapping_v2 or []:
        if not isinstance(bdm, dict):
            raise bad(f"Invalid input for field/attribute block_device_mapping_v2. Value: "
                      f"{bdm}. {bdm!r} is not of type 'object'")
        source = bdm.get("source_type")
        dest = bdm.get("destination_type") or ("local" if source in ("image", "blank")
                                               else "volume")
        if source == "image" and dest == "local" and str(bdm.get("boot_index")) == "0":
            ref = str(bdm.get("uuid") or bdm.get("image_id") or "")
            if image and ref and ref != image:
                raise bad(f"Block device mapping image {ref} does not match imageRef {image}.")
            image = image or ref
            continue
        if dest == "volume" or source in ("volume", "snapshot"):
            raise bad(NO_VOLUMES)
        raise bad("Ephemeral and swap disks are not available yet: a server has only the root "
                  "disk of its flavor.")
    if not image:
        raise bad("Missing imageRef attribute")
    return image


def _counts(server: ServerCreate, most: int) -> tuple[int, int]:
    """min/max_count; above ``Config.max_servers_per_request`` a 400 (one request's work
    stays bounded even where the quota is unlimited)."""
    low = server.min_count or 1
    high = server.max_count or low
    if low > high:
        raise bad("min_count must be <= max_count")
    if high > most:
        raise bad(f"max_count may be at most {most} servers per request.")
    return low, high


async def _security_groups(request: Request, ctx: AuthContext, server: ServerCreate
                           ) -> list[str] | None:
    """The requested groups' ids (by name or id, in the caller's project), or None."""
    if not server.security_groups:
        return None
    return await compute_secgroups.resolve_names(runtime(request), project_of(ctx),
                                                 [g.name for g in server.security_groups])


async def _resolve(request: Request, ctx: AuthContext, server: ServerCreate, networks: Any,
                   count: int) -> Any:
    """The requested networks checked; ports made for the server will get the requested
    security groups (a port the caller brings keeps its own)."""
    groups = await _security_groups(request, ctx, server)
    networks = await compute_ports.resolve(runtime(request), ctx, networks, count)
    for req in networks if isinstance(networks, list) else []:
        req.security_groups = groups
    return networks


async def _validated(request: Request, ctx: AuthContext, body: CreateBody) -> dict[str, Any]:
    """Every check of the request, in Nova's order; returns what the writes need."""
    server = body.server
    gate(request, server, "server", ("description", "tags", "personality",
                                     "trusted_image_certificates", "host",
                                     "hypervisor_hostname", "hostname"))
    if server.personality:
        raise bad("Personality files are not supported; pass user_data instead.")
    wanted_host = None
    if server.host or server.hypervisor_hostname:
        if not ctx.is_admin:
            raise forbidden("Policy doesn't allow compute:servers:create:requested_destination "
                            "to be performed.")
        if server.host and server.hypervisor_hostname and \
                server.host != server.hypervisor_hostname:
            raise bad("Requested host and hypervisor_hostname name different hosts.")
        wanted_host = await lookup.check_host(runtime(request).objects,
                                              server.host or server.hypervisor_hostname or "")
    low, high = _counts(server, runtime(request).config.max_servers_per_request)
    if server.hostname and high > 1:
        raise bad("Unable to specify a hostname when creating multiple instances.")
    objects = runtime(request).objects
    zone, forced_host = await lookup.check_zone(objects, ctx, server.availability_zone)
    wanted_host = wanted_host or forced_host
    image_ref = _boot_image(server)
    networks = compute_ports.parse_networks(request, server.networks)
    flavor_id = lookup.flavor_ref(server.flavorRef)
    flavor = await lookup.get_flavor(objects, ctx, flavor_id)
    if flavor is None:
        raise bad(f"Flavor {flavor_id} could not be found.")
    image = await lookup.bootable_image(objects, ctx, image_ref)
    lookup.check_image_fits(ctx, image, flavor)
    keypair = None
    if server.key_name is not None:
        keypair = await lookup.get_keypair(objects, ctx.user_id, server.key_name)
        if keypair is None:
            raise bad("Invalid key_name provided.")
    pid = project_of(ctx)
    limits = await limits_for(objects, pid)
    metadata = server.metadata or {}
    if 0 <= limits["metadata_items"] < len(metadata):
        raise forbidden(f"Maximum number of metadata items exceeds {limits['metadata_items']}")
    group_id = lookup.group_hint(body.hints or body.legacy_hints)
    if group_id:
        await lookup.check_group(objects, pid, group_id, high, limits["server_group_members"])
    fspec = lookup.flavor_spec(flavor)
    sids = await claim_servers(objects, pid, limits, fspec, low, high)
    count = len(sids)
    requested = networks if isinstance(networks, str) else [
        {"uuid": n.network_id, "port": n.port_id, "fixed_ip": n.fixed_ip} for n in networks]
    try:
        networks = await _resolve(request, ctx, server, networks, count)
    except BaseException:
        await release(objects, pid, sids)
        raise
    return {"sids": sids, "flavor": fspec, "image": lookup.image_spec(image), "zone": zone,
            "requested_host": wanted_host, "requested_networks": requested,
            "networks": networks, "group": group_id, "count": count, "keypair": keypair,
            "metadata": metadata, "limits": limits, "min_count": low, "max_count": high}


def _server_object(request: Request, ctx: AuthContext, server: ServerCreate, plan: dict[str, Any],
                   index: int, reservation: str, req_id: str) -> Obj:
    sid = plan["sids"][index]
    name = server.name if plan["count"] == 1 else f"{server.name}-{index + 1}"
    description = server.description if at_least(request, "2.19") else server.name
    keypair = plan["keypair"]
    now = store.now_iso()
    hostname = server.hostname or lookup_hostname(name, sid)
    spec = {
        "displayName": name, "flavor": plan["flavor"], "image": plan["image"],
        "keyName": server.key_name, "publicKey": keypair["spec"]["publicKey"] if keypair else None,
        "userData": server.user_data, "metadata": dict(plan["metadata"]),
        "availabilityZone": plan["zone"], "group": plan["group"],
        "networks": plan["requested_networks"],
        "power": "on", "reboot": {"nonce": 0, "type": "SOFT"},
        "rebuild": {"nonce": 0, "image": None}, "locked": None, "description": description,
        "tags": sorted(set(server.tags or [])), "requestId": req_id, "host": None,
        "requestedHost": plan["requested_host"], "ports": [],
    }
    return {"apiVersion": "kumo.io/v1", "kind": cm.SERVER,
            "metadata": {"name": sid, "namespace": project_of(ctx), "labels": {},
                         "annotations": {ANN_USER: ctx.user_id, ANN_UPDATED: now,
                                         ANN_RESERVATION: reservation,
                                         ANN_LAUNCH_INDEX: str(index), ANN_HOSTNAME: hostname}},
            "spec": spec,
            "status": {"vmState": "building", "taskState": "scheduling",
                       "powerState": cm.NOSTATE}}


def lookup_hostname(name: str, sid: str) -> str:
    return sanitize_hostname(name) or f"Server-{sid}"


async def _kept(write: Awaitable[Obj], sink: list[Obj]) -> None:
    """Append a write's result to ``sink`` even when the request is cancelled meanwhile
    (its client went away): the write may commit regardless, and must then be undone."""
    task = asyncio.ensure_future(write)
    try:
        sink.append(await asyncio.shield(task))
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is None:
            sink.append(task.result())
        raise


async def create(request: Request) -> Response:
    ctx = await caller(request)
    require_member(ctx, "os_compute_api:servers:create")
    body = await body_of(request, CreateBody, "server")
    plan = await _validated(request, ctx, body)
    req_id = request_id(request)
    reservation = "r-" + "".join(secrets.choice(string.ascii_lowercase + string.digits)
                                 for _ in range(8))
    objects = runtime(request).objects
    created: list[Obj] = []
    ports: list[str] = []
    rt = runtime(request)
    try:
        for i in range(plan["count"]):
            obj = _server_object(request, ctx, body.server, plan, i, reservation, req_id)
            mine = await compute_ports.allocate(rt, ctx, plan["networks"], obj["metadata"]["name"],
                                                plan["zone"])
            ports += mine
            obj["spec"]["ports"] = mine
            await _kept(objects.create(obj), created)
    except BaseException:
        for s in created:
            await objects.delete(cm.SERVER, s["metadata"]["namespace"], s["metadata"]["name"])
        await compute_ports.release_ports(rt, project_of(ctx), ports)
        await release(objects, project_of(ctx), plan["sids"])
        raise
    for s in created:
        await record_action(objects, s, "create", req_id, ctx)
        await record_step(objects, s, "CreateAccepted",
                          f"server {s['metadata']['name']} accepted for scheduling", req_id,
                          start=s["metadata"].get("creationTimestamp"))
    if body.server.return_reservation_id:
        return JSONResponse({"reservation_id": reservation}, status_code=202)
    first = created[0]["metadata"]["name"]
    # Nova returns a generated admin password; kumo's guests take SSH keys from metadata
    # and never see it, but clients and Tempest's schema expect the field.
    view: Obj = {"id": first, "links": links(request, "servers", first),
                 "OS-DCF:diskConfig": "MANUAL",
                 "adminPass": body.server.adminPass or secrets.token_urlsafe(9)}
    if body.server.networks != "none":
        view["security_groups"] = [{"name": g.name} for g in body.server.security_groups or []] \
            or [{"name": "default"}]
    location = f"{compute_root(request)}/v2.1/servers/{first}"
    return JSONResponse({"server": view}, status_code=202, headers={"Location": location})
