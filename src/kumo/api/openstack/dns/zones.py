"""/v2/zones: create, list, show, update, delete (Designate v2).

A zone's ``status`` shown here is the serving controller's verdict for the zone's current
serial: a serial it has not judged yet is PENDING (the change is not served everywhere).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import dns as core
from kumo.model import dns as dm

from ...runtime import runtime
from .common import base_url, body_of, caller, iso, listing

Obj = dict[str, Any]
FILTERS = ("name", "email", "status", "ttl", "type", "description")
SORT_KEYS = ("created_at", "id", "updated_at", "name", "tenant_id", "serial", "ttl", "status")


def zone_state(zone: Obj) -> tuple[str, str]:
    """(status, action) of the zone's current serial."""
    st = zone.get("status") or {}
    serial = zone["spec"].get("serial")
    if st.get("serial") == serial and st.get("status") in ("ACTIVE", "ERROR"):
        return st["status"], "NONE" if st["status"] == "ACTIVE" else st.get("action", "UPDATE")
    return "PENDING", "CREATE" if not st.get("served") and st.get("serial") is None else "UPDATE"


def zone_view(request: Request, zone: Obj, action: str | None = None) -> Obj:
    md, spec = zone["metadata"], zone["spec"]
    status, shown = zone_state(zone)
    status, action = ("PENDING", action) if action else (status, shown)
    return {"id": md["name"], "pool_id": spec.get("poolId") or core.POOL_ID,
            "project_id": md["namespace"], "name": spec["name"], "email": spec.get("email"),
            "description": spec.get("description"), "ttl": spec.get("ttl"),
            "serial": spec.get("serial"), "status": status, "action": action,
            "version": md.get("generation") or 1, "attributes": spec.get("attributes") or {},
            "type": spec.get("type", "PRIMARY"), "masters": spec.get("masters") or [],
            "created_at": iso(md.get("creationTimestamp")),
            "updated_at": (zone.get("status") or {}).get("updatedAt"),
            "transferred_at": None, "shared": bool(spec.get("sharedWith")),
            "links": {"self": f"{base_url(request)}/v2/zones/{md['name']}"}}


async def create(request: Request) -> Response:
    c = await caller(request)
    body = await body_of(request)
    zone = await core.create_zone(runtime(request).objects, c.actor, body, privileged=c.admin)
    return JSONResponse(zone_view(request, zone), status_code=202)


async def index(request: Request) -> Response:
    c = await caller(request)
    objects = runtime(request).objects
    ns = None if c.all_projects else c.actor.project_id
    # one list of every zone: the project's own and those shared with it
    rows = [zone_view(request, z) for z in (await objects.list(dm.DNS_ZONE, None)).items
            if ns is None or z["metadata"]["namespace"] == ns
            or ns in (z["spec"].get("sharedWith") or [])]
    return listing(request, rows, "zones", FILTERS, SORT_KEYS)


async def show(request: Request) -> Response:
    c = await caller(request)
    zone = await core.get_zone(runtime(request).objects, c.actor,
                               request.path_params["zone_id"])
    return JSONResponse(zone_view(request, zone))


async def update(request: Request) -> Response:
    c = await caller(request)
    body = await body_of(request)
    zone = await core.update_zone(runtime(request).objects, c.actor,
                                  request.path_params["zone_id"], body)
    return JSONResponse(zone_view(request, zone, "UPDATE"), status_code=202)


async def delete(request: Request) -> Response:
    c = await caller(request)
    zone = await core.delete_zone(runtime(request).objects, c.actor,
                                  request.path_params["zone_id"])
    return JSONResponse(zone_view(request, zone, "DELETE"), status_code=202)


async def nameservers(request: Request) -> Response:
    c = await caller(request)
    await core.get_zone(runtime(request).objects, c.actor, request.path_params["zone_id"])
    return JSONResponse({"nameservers": [{"hostname": ns, "priority": i + 1}
                                         for i, ns in enumerate(core.NAMESERVERS)]})
