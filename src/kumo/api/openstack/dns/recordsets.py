"""/v2/zones/{zone_id}/recordsets and /v2/recordsets (Designate v2).

A recordset's status follows its zone's: ACTIVE once the zone's current serial is served
by every target, PENDING before, ERROR when the zone is.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import dns as zones
from kumo.core import dns_records as core
from kumo.model import dns as dm

from ...errors import ApiError
from ...runtime import runtime
from .common import base_url, body_of, caller, caller_zone, iso, listing, matches
from .zones import zone_state

Obj = dict[str, Any]
FILTERS = ("name", "type", "ttl", "data", "status", "description", "zone_id")
SORT_KEYS = ("created_at", "id", "updated_at", "zone_id", "tenant_id", "name", "type", "ttl",
             "status")


def records_of(zone: Obj, rs: Obj) -> list[str]:
    """Stored records; the SOA is rendered from the zone (its serial changes)."""
    if rs["spec"]["type"] != "SOA":
        return list(rs["spec"].get("records") or [])
    return [zones.soa_text(zone)]


def rs_view(request: Request, zone: Obj, rs: Obj, action: str | None = None) -> Obj:
    md, spec = rs["metadata"], rs["spec"]
    status, zone_action = zone_state(zone)
    zid = zone["metadata"]["name"]
    return {"id": md["name"], "zone_id": zid,
            "project_id": spec.get("projectId") or md["namespace"],
            "name": spec["name"], "zone_name": zone["spec"]["name"], "type": spec["type"],
            "records": records_of(zone, rs), "ttl": spec.get("ttl"),
            "status": "PENDING" if action else status,
            "action": action or ("NONE" if status == "ACTIVE" else
                                 "CREATE" if (md.get("generation") or 1) == 1 else zone_action),
            "version": md.get("generation") or 1, "description": spec.get("description"),
            "created_at": iso(md.get("creationTimestamp")), "updated_at": None,
            "links": {"self": f"{base_url(request)}/v2/zones/{zid}/recordsets/{md['name']}"}}


async def create(request: Request) -> Response:
    c, zone = await caller_zone(request)
    body = await body_of(request)
    rs = await core.create_recordset(runtime(request).objects, c.actor, zone, body)
    return JSONResponse(rs_view(request, zone, rs, "CREATE"), status_code=202)


def _row(request: Request, zone: Obj, rs: Obj) -> Obj:
    row = rs_view(request, zone, rs)
    row["data"] = row["records"]
    return row


def _filter_data(request: Request, rows: list[Obj]) -> list[Obj]:
    want = request.query_params.get("data")
    out = []
    for row in rows:
        data = row.pop("data")
        if want is None or any(matches(d, want) for d in data):
            out.append(row)
    return out


async def index(request: Request) -> Response:
    _, zone = await caller_zone(request)
    sets = await core.zone_sets(runtime(request).objects, zone)
    return _listing(request, [_row(request, zone, rs) for rs in sets])


def _listing(request: Request, rows: list[Obj]) -> Response:
    rows = _filter_data(request, rows)
    return listing(request, rows, "recordsets", tuple(f for f in FILTERS if f != "data"),
                   SORT_KEYS)


async def index_all(request: Request) -> Response:
    """Every recordset the caller sees, across its zones."""
    c = await caller(request)
    objects = runtime(request).objects
    ns = None if c.all_projects else c.actor.project_id
    by_id = {z["metadata"]["name"]: z for z in (await objects.list(dm.DNS_ZONE, ns)).items}
    rows = [_row(request, by_id[rs["spec"]["zoneId"]], rs)
            for rs in (await objects.list(dm.DNS_RECORDSET, ns)).items
            if rs["spec"].get("zoneId") in by_id]
    return _listing(request, rows)


async def show(request: Request) -> Response:
    _, zone = await caller_zone(request)
    rs = await core.get_recordset(runtime(request).objects, zone,
                                  request.path_params["recordset_id"])
    return JSONResponse(rs_view(request, zone, rs))


async def show_any(request: Request) -> Response:
    """``/v2/recordsets/{id}``: a recordset by id alone (its zone looked up)."""
    c = await caller(request)
    objects = runtime(request).objects
    rid = request.path_params["recordset_id"]
    ns = None if c.all_projects else c.actor.project_id
    found = await objects.try_get(dm.DNS_RECORDSET, ns, rid) if ns is not None else next(
        (rs for rs in (await objects.list(dm.DNS_RECORDSET, None)).items
         if rs["metadata"]["name"] == rid), None)
    if found is None:
        raise ApiError(404, "Could not find RecordSet", reason="recordset_not_found")
    zone = await zones.get_zone(objects, c.actor, found["spec"]["zoneId"])
    where = f"{base_url(request)}/v2/zones/{zone['metadata']['name']}/recordsets/{rid}"
    return JSONResponse(rs_view(request, zone, found), status_code=301,
                        headers={"Location": where})


async def update(request: Request) -> Response:
    c, zone = await caller_zone(request)
    body = await body_of(request)
    rs = await core.update_recordset(runtime(request).objects, c.actor, zone,
                                     request.path_params["recordset_id"], body)
    return JSONResponse(rs_view(request, zone, rs, "UPDATE"), status_code=202)


async def delete(request: Request) -> Response:
    c, zone = await caller_zone(request)
    rs = await core.delete_recordset(runtime(request).objects, c.actor, zone,
                                     request.path_params["recordset_id"])
    return JSONResponse(rs_view(request, zone, rs, "DELETE"), status_code=202)
