"""Designate's admin corner: quotas (QuotaSet "dns"), pools (read), service statuses."""

from __future__ import annotations

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


async def service_statuses(request: Request) -> Response:
    """The serving side as Designate names it: api (this face), producer (kumo's store),
    mdns (the zone-transfer source), worker (the status controller)."""
    await admin_caller(request)
    rt = runtime(request)
    provider = rt.debug_providers.get("dns")
    state = provider() if provider else {}
    rows = []
    for name in ("api", "central", "producer", "mdns", "worker"):
        up = name in ("api", "central", "producer") or bool(state.get(name))
        rows.append({"id": f"kumo-{name}", "service_name": name, "hostname": "kumo",
                     "status": "UP" if up else "DOWN", "stats": {},
                     "capabilities": {}, "heartbeated_at": None, "created_at": None,
                     "updated_at": None,
                     "links": {"self": f"{base_url(request)}/v2/service_statuses/kumo-{name}"}})
    return JSONResponse({"service_statuses": rows, "links": {"self": str(request.url)}})
