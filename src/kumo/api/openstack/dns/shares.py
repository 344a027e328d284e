"""/v2/zones/{zone_id}/shares: a zone shared with other projects (they see it and manage
their own recordsets in it)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import dns as zones

from ...errors import ApiError
from ...runtime import runtime
from .common import base_url, body_of, caller_zone, iso, listing

Obj = dict[str, Any]


def _view(request: Request, zone: Obj, target: str) -> Obj:
    md = zone["metadata"]
    sid = zones.share_id(md["name"], target)
    return {"id": sid, "zone_id": md["name"], "project_id": md["namespace"],
            "target_project_id": target, "created_at": iso(md.get("creationTimestamp")),
            "updated_at": None,
            "links": {"self": f"{base_url(request)}/v2/zones/{md['name']}/shares/{sid}"}}


async def create(request: Request) -> Response:
    c, zone = await caller_zone(request)
    body = await body_of(request)
    target = body.get("target_project_id")
    zone = await zones.share(runtime(request).objects, c.actor, zone, target)
    return JSONResponse(_view(request, zone, str(target)), status_code=201)


async def index(request: Request) -> Response:
    _, zone = await caller_zone(request)
    rows = [_view(request, zone, p) for p in zone["spec"].get("sharedWith") or []]
    return listing(request, rows, "shared_zones", ("target_project_id",),
                   ("created_at", "id", "target_project_id"))


async def show(request: Request) -> Response:
    _, zone = await caller_zone(request)
    sid = request.path_params["share_id"]
    for p in zone["spec"].get("sharedWith") or []:
        if zones.share_id(zone["metadata"]["name"], p) == sid:
            return JSONResponse(_view(request, zone, p))
    raise ApiError(404, "Could not find SharedZone", reason="shared_zone_not_found")


async def delete(request: Request) -> Response:
    c, zone = await caller_zone(request)
    await zones.unshare(runtime(request).objects, c.actor, zone,
                        request.path_params["share_id"])
    return Response(status_code=204)
