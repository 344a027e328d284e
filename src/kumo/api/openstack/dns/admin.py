"""Designate's admin corner: quotas (QuotaSet "dns"), pools (read), service statuses."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import dns as core
from kumo.model import compute as cm
from kumo.model import dns as dm

from ...auth import authenticate
from ...errors import ApiError
from ...runtime import runtime
from .common import admin_caller, base_url, body_of, caller

Obj = dict[str, Any]
MAX_QUOTA = 0x7FFFFFFF


async def quota_show(request: Request) -> Response:
    ctx = await authenticate(request)
    project = request.path_params["project_id"]
    if project != ctx.project_id and not ctx.is_admin:
        raise ApiError(403, "You may read only your own project's quotas.",
                       reason="forbidden")
    return JSONResponse(await core.limits(runtime(request).objects, project))


async def quota_update(request: Request) -> Response:
    await admin_caller(request)
    project = request.path_params["project_id"]
    body = await body_of(request)
    values: dict[str, int] = {}
    for k, v in body.items():
        if k not in dm.QUOTA_DEFAULTS:
            raise ApiError(400, f"{k} is not a DNS quota", reason="invalid_object")
        if isinstance(v, bool) or not isinstance(v, int) or not -1 <= v <= MAX_QUOTA:
            raise ApiError(400, f"{k} must be an integer ≥ -1", reason="invalid_object")
        values[k] = v
    objects = runtime(request).objects
    obj = {"apiVersion": "kumo.io/v1", "kind": cm.QUOTA_SET,
           "metadata": {"name": dm.QUOTA_NAME, "namespace": project}, "spec": values}
    try:
        await objects.create(obj)
    except store.AlreadyExists:
        await objects.mutate(cm.QUOTA_SET, project, dm.QUOTA_NAME,
                             lambda cur: cur.setdefault("spec", {}).update(values))
    return JSONResponse(await core.limits(objects, project))


async def quota_reset(request: Request) -> Response:
    await admin_caller(request)
    try:
        await runtime(request).objects.delete(cm.QUOTA_SET, request.path_params["project_id"],
                                              dm.QUOTA_NAME)
    except store.NotFound:
        pass
    return Response(status_code=204)


async def quota_own(request: Request) -> Response:
    c = await caller(request)
    return JSONResponse(await core.limits(runtime(request).objects,
                                          c.actor.project_id or ""))


async def limits(request: Request) -> Response:
    """Designate's absolute limits (this deployment's defaults)."""
    await caller(request)  # sudo/all-projects headers: admins only
    d = dm.QUOTA_DEFAULTS
    return JSONResponse({"max_page_limit": 1000, "max_recordset_name_length": 255,
                         "max_recordset_records": d["recordset_records"],
                         "max_zone_name_length": 255, "max_zone_records": d["zone_records"],
                         "max_zone_recordsets": d["zone_recordsets"],
                         "max_zones": d["zones"], "min_ttl": 0})


async def pool_show(request: Request) -> Response:
    await caller(request)
    if request.path_params["pool_id"] != core.POOL_ID:
        raise ApiError(404, "Could not find Pool", reason="pool_not_found")
    return JSONResponse(_pool(request))


def _pool(request: Request) -> Obj:
    return {"id": core.POOL_ID, "name": "default", "description": "kumo's name servers",
            "attributes": {}, "project_id": None, "created_at": None, "updated_at": None,
            "ns_records": [{"hostname": ns, "priority": i + 1}
                           for i, ns in enumerate(core.NAMESERVERS)],
            "links": {"self": f"{base_url(request)}/v2/pools/{core.POOL_ID}"}}


async def pools(request: Request) -> Response:
    await caller(request)
    return JSONResponse({"pools": [_pool(request)], "links": {"self": str(request.url)},
                         "metadata": {"total_count": 1}})


SERVICES = ("api", "central", "producer", "mdns", "worker")


def _statuses(request: Request) -> list[Obj]:
    """The serving side as Designate names it: api, central (this face and the core),
    producer (kumo's store), mdns (the zone-transfer source), worker (the status
    controller); ids are stable UUIDs per name."""
    provider = runtime(request).debug_providers.get("dns")
    state = provider() if provider else {}
    rows = []
    for name in SERVICES:
        up = name in ("api", "central", "producer") or bool(state.get(name))
        sid = str(uuid.uuid5(uuid.UUID(core.POOL_ID), f"service:{name}"))
        rows.append({"id": sid, "service_name": name, "hostname": "kumo",
                     "status": "UP" if up else "DOWN", "stats": {},
                     "capabilities": {}, "heartbeated_at": None, "created_at": None,
                     "updated_at": None,
                     "links": {"self": f"{base_url(request)}/v2/service_statuses/{sid}"}})
    return rows


async def service_statuses(request: Request) -> Response:
    await admin_caller(request)
    return JSONResponse({"service_statuses": _statuses(request),
                         "links": {"self": str(request.url)}})


async def service_status(request: Request) -> Response:
    await admin_caller(request)
    for row in _statuses(request):
        if row["id"] == request.path_params["status_id"]:
            return JSONResponse(row)
    raise ApiError(404, "Could not find ServiceStatus", reason="service_status_not_found")
