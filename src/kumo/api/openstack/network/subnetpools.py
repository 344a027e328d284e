"""Subnet pools: /v2.0/subnetpools (subnet_allocation) — IPv4 prefixes subnets are
carved from with ``subnetpool_id`` (+ ``prefixlen`` or a ``cidr`` inside the pool), or
with ``use_default_subnetpool`` from the cloud's default pool. The allocation rules and
the race-free claims are kumo.core.subnetpools'."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import subnetpools as core
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .address_scopes import check_pool_scope
from .common import (
    Caller,
    caller,
    check_project,
    create_request,
    delete_quietly,
    delete_request,
    find_any,
    find_visible,
    mutate,
    new_object,
    standard,
    to_bool,
    to_str,
    to_tags,
    update_request,
    visible_shared,
)
from .errors import bad_request, err, invalid, policy
from .lists import listed, shown

Obj = dict[str, Any]
_CREATE = {"name", "description", "prefixes", "default_prefixlen", "min_prefixlen",
           "max_prefixlen", "shared", "is_default", "address_scope_id", "default_quota",
           "tags", "project_id", "tenant_id"}
_UPDATE = {"name", "description", "prefixes", "default_prefixlen", "min_prefixlen",
           "max_prefixlen", "is_default", "address_scope_id", "default_quota"}


def pool_view(pool: Obj) -> Obj:
    spec = pool["spec"]
    return {**standard(pool), "name": spec.get("name", ""), "ip_version": 4,
            "prefixes": list(spec.get("prefixes") or []),
            "default_prefixlen": spec.get("defaultPrefixlen", core.MIN_PREFIXLEN),
            "min_prefixlen": spec.get("minPrefixlen", core.MIN_PREFIXLEN),
            "max_prefixlen": spec.get("maxPrefixlen", core.MAX_PREFIXLEN),
            "shared": spec.get("shared", False), "is_default": spec.get("isDefault", False),
            "address_scope_id": spec.get("addressScopeId"), "default_quota": None}


async def visible_pools(rt: Runtime, c: Caller) -> list[Obj]:
    """Own pools and shared ones (every pool for admins)."""
    return await visible_shared(rt, c, nm.SUBNET_POOL)


async def find_pool(rt: Runtime, c: Caller, pool_id: str) -> Obj:
    return await find_visible(rt, c, nm.SUBNET_POOL, pool_id, visible_pools)


def _spec(data: Obj, current: Obj) -> Obj:
    """The fields of a create or an update, validated (prefix bounds by kumo.core)."""
    out: Obj = {}
    for key in ("name", "description"):
        if key in data:
            out[key] = to_str(key, data[key])
    if "prefixes" in data:
        prefixes = core.parse_prefixes(data["prefixes"])
        core.check_prefix_update(current.get("prefixes") or [], prefixes)
        out["prefixes"] = [str(p) for p in prefixes]
    lo, default, hi = core.bounds(data, current)
    out.update({"minPrefixlen": lo, "defaultPrefixlen": default, "maxPrefixlen": hi})
    if "is_default" in data:
        out["isDefault"] = to_bool("is_default", data["is_default"])
    if "address_scope_id" in data:
        scope = data["address_scope_id"]
        out["addressScopeId"] = None if scope in (None, "") else to_str("address_scope_id",
                                                                         scope)
    if data.get("default_quota") is not None:
        raise invalid("default_quota is not supported by kumo.")
    return out


async def _check_default(rt: Runtime, c: Caller, pool_id: str, spec: Obj) -> None:
    """One default pool per cloud (admins set it), as Neutron's DefaultSubnetPoolsExist."""
    if not spec.get("isDefault"):
        return
    if not c.is_admin:
        raise policy("create_subnetpool:is_default")
    for p in (await rt.objects.list(nm.SUBNET_POOL, None)).items:
        if p["spec"].get("isDefault") and p["metadata"]["name"] != pool_id:
            raise err(409, "DefaultSubnetPoolsExist",
                      "A default subnetpool for this IP family has already been set. Only "
                      "one default may exist per IP family")


# ---- handlers ------------------------------------------------------------------------
async def index(request: Request) -> Response:
    c = await caller(request)
    return listed(request, "subnetpools", pool_view, await visible_pools(runtime(request), c))


async def show(request: Request) -> Response:
    c = await caller(request)
    pool = await find_pool(runtime(request), c, request.path_params["subnetpool_id"])
    return shown(request, "subnetpool", pool_view(pool))


async def create(request: Request) -> Response:
    c, data = await create_request(request, "subnetpool", _CREATE)
    rt = runtime(request)
    project = check_project(c, data)
    if "prefixes" not in data:
        raise bad_request("Failed to parse request. Required attribute 'prefixes' not "
                          "specified")
    spec = {"name": "", "description": "", **_spec(data, {}),
            "shared": to_bool("shared", data.get("shared", False)),
            "isDefault": to_bool("is_default", data.get("is_default", False)),
            "tags": to_tags(data.get("tags", []))}
    if spec["shared"] and not c.is_admin:
        raise policy("create_subnetpool:shared")
    pid = str(uuid.uuid4())
    await _check_default(rt, c, pid, spec)
    await check_pool_scope(rt, c, pid, spec)
    labels = {nm.SHARED_LABEL: "true"} if spec["shared"] else {}
    pool = await rt.objects.create(new_object(nm.SUBNET_POOL, project, pid, spec, labels))
    return JSONResponse({"subnetpool": pool_view(pool)}, status_code=201)


async def update(request: Request) -> Response:
    rt, c, pool, data = await update_request(
        request, "subnetpool", find_pool, "subnetpool_id", _UPDATE,
        ("id", "ip_version", "project_id", "shared", "tenant_id"))
    changes = _spec(data, pool["spec"])
    await _check_default(rt, c, pool["metadata"]["name"], changes)
    await check_pool_scope(rt, c, pool["metadata"]["name"], {**pool["spec"], **changes})
    pool = await mutate(rt, pool, lambda o: o["spec"].update(changes))
    return JSONResponse({"subnetpool": pool_view(pool)})


async def delete(request: Request) -> Response:
    rt, _, pool = await delete_request(request, "subnetpool", find_pool, "subnetpool_id")
    core.check_deletable(pool)
    await delete_quietly(rt, pool)
    return Response(status_code=204)


# ---- subnets made from a pool (called by subnets.create) ----------------------------------
async def pool_of(rt: Runtime, c: Caller, data: Obj) -> Obj | None:
    """The pool a subnet create names (``subnetpool_id``, or the default pool), or None."""
    if data.get("subnetpool_id") is not None:
        return await find_pool(rt, c, str(data["subnetpool_id"]))
    if not data.get("use_default_subnetpool"):
        return None
    for p in (await rt.objects.list(nm.SUBNET_POOL, None)).items:
        if p["spec"].get("isDefault"):
            return p
    raise bad_request("No default subnetpool found for IPv4")


async def claim_cidr(rt: Runtime, pool: Obj, subnet_id: str, data: Obj) -> str:
    """The subnet's CIDR, claimed in the pool (its ``cidr`` inside it, else by prefixlen)."""
    prefixlen = data.get("prefixlen")
    if prefixlen is not None:
        if data.get("cidr") is not None:
            raise bad_request("cidr and prefixlen must not be supplied together")
        try:
            prefixlen = int(prefixlen)
        except (TypeError, ValueError) as exc:
            raise invalid(f"Invalid input for prefixlen. Reason: '{prefixlen}' is not an "
                          "integer.") from exc
    cidr = None if data.get("cidr") is None else str(data["cidr"])
    return await core.claim(rt.objects, pool, subnet_id, cidr, prefixlen)


async def release_cidr(rt: Runtime, sub: Obj) -> None:
    """A deleted (or never made) subnet gives its block back to the pool."""
    pool_id = sub["spec"].get("subnetpoolId")
    if not pool_id:
        return
    pool = await find_any(rt, nm.SUBNET_POOL, pool_id, prefer=sub["metadata"]["namespace"])
    if pool is not None:
        await core.release(rt.objects, pool["metadata"]["namespace"], pool_id,
                           sub["metadata"]["name"])
