"""Address scopes: /v2.0/address-scopes — IPv4 scopes subnet pools join with
``address_scope_id``; the pools of one scope never overlap (kumo.core.subnetpools).
Routing between scopes (Neutron's no-NAT within a scope) is not done: kumo's routers
SNAT by ``enable_snat`` alone."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import subnetpools as core
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .common import (
    Caller,
    caller,
    check_project,
    create_request,
    delete_quietly,
    delete_request,
    find_visible,
    mutate,
    new_object,
    standard,
    to_bool,
    to_str,
    update_request,
    visible_shared,
)
from .errors import bad_request, invalid, policy
from .lists import listed, shown

Obj = dict[str, Any]
_CREATE = {"name", "shared", "ip_version", "project_id", "tenant_id"}
_UPDATE = {"name", "shared"}


def scope_view(scope: Obj) -> Obj:
    out = {**standard(scope), "name": scope["spec"].get("name", ""),
           "shared": scope["spec"].get("shared", False), "ip_version": 4}
    out.pop("description")
    return out


async def visible_scopes(rt: Runtime, c: Caller) -> list[Obj]:
    """Own scopes and shared ones (every scope for admins)."""
    return await visible_shared(rt, c, nm.ADDRESS_SCOPE)


async def find_scope(rt: Runtime, c: Caller, scope_id: str) -> Obj:
    return await find_visible(rt, c, nm.ADDRESS_SCOPE, scope_id, visible_scopes)


async def check_pool_scope(rt: Runtime, c: Caller, pool_id: str, spec: Obj) -> None:
    """A pool joining a scope (``spec.addressScopeId``): the scope is visible to the
    caller and none of its other pools overlaps this one's prefixes."""
    scope_id = spec.get("addressScopeId")
    if not scope_id:
        return
    await find_scope(rt, c, scope_id)
    pools = [p for p in (await rt.objects.list(nm.SUBNET_POOL, None)).items
             if p["spec"].get("addressScopeId") == scope_id]
    core.check_scope(pool_id, spec.get("prefixes") or [], pools)


async def index(request: Request) -> Response:
    c = await caller(request)
    return listed(request, "address_scopes", scope_view,
                  await visible_scopes(runtime(request), c))


async def show(request: Request) -> Response:
    c = await caller(request)
    scope = await find_scope(runtime(request), c, request.path_params["address_scope_id"])
    return shown(request, "address_scope", scope_view(scope))


async def create(request: Request) -> Response:
    c, data = await create_request(request, "address_scope", _CREATE)
    rt = runtime(request)
    project = check_project(c, data)
    if "ip_version" not in data:
        raise bad_request("Failed to parse request. Required attribute 'ip_version' not "
                          "specified")
    if data["ip_version"] not in (4, "4"):
        raise invalid("kumo supports IPv4 address scopes only.")
    shared = to_bool("shared", data.get("shared", False))
    if shared and not c.is_admin:
        raise policy("create_address_scope:shared")
    spec = {"name": to_str("name", data.get("name", "")), "shared": shared, "ipVersion": 4}
    labels = {nm.SHARED_LABEL: "true"} if shared else {}
    scope = await rt.objects.create(new_object(nm.ADDRESS_SCOPE, project, str(uuid.uuid4()),
                                               spec, labels))
    return JSONResponse({"address_scope": scope_view(scope)}, status_code=201)


async def update(request: Request) -> Response:
    rt, c, scope, data = await update_request(request, "address_scope", find_scope,
                                              "address_scope_id", _UPDATE,
                                              ("id", "ip_version", "project_id", "tenant_id"))
    changes: Obj = {}
    if "name" in data:
        changes["name"] = to_str("name", data["name"])
    if "shared" in data:
        shared = to_bool("shared", data["shared"])
        if scope["spec"].get("shared") and not shared:
            raise bad_request("Unable to complete operation on address scope: shared "
                              "address scopes cannot be unshared.")
        if shared and not c.is_admin:
            raise policy("update_address_scope:shared")
        changes["shared"] = shared

    def change(o: Obj) -> None:
        o["spec"].update(changes)
        if changes.get("shared"):
            o["metadata"].setdefault("labels", {})[nm.SHARED_LABEL] = "true"

    scope = await mutate(rt, scope, change)
    return JSONResponse({"address_scope": scope_view(scope)})


async def delete(request: Request) -> Response:
    rt, _, scope = await delete_request(request, "address_scope", find_scope,
                                        "address_scope_id")
    core.check_scope_deletable(scope["metadata"]["name"],
                               (await rt.objects.list(nm.SUBNET_POOL, None)).items)
    await delete_quietly(rt, scope)
    return Response(status_code=204)
