"""Keystone's catalog API: services, endpoints and regions.

kumo's own services (identity, compute, image, network, …) are built in: listed from the
runtime's catalog, read-only (changing one would point every client elsewhere). An admin
may add others, as in Keystone — stored ``Service``, ``Endpoint`` and ``Region`` objects —
which are listed beside the built-in ones.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import identity as m

from ...auth import authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from . import body as b
from .resources import admin
from .views import catalog, collection, links, save

Obj = dict[str, Any]
Id = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^[^/]+$")]
BUILT_IN = "kumo's own {what}s are built in and cannot be changed."


class ServiceBody(b.Loose):
    type: StrictStr = Field(min_length=1, max_length=255)
    name: StrictStr | None = Field(default=None, max_length=255)
    description: StrictStr | None = None
    enabled: StrictBool = True


class ServicePatch(b.Loose):
    type: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    name: StrictStr | None = Field(default=None, max_length=255)
    description: StrictStr | None = None
    enabled: StrictBool | None = None


class EndpointBody(b.Loose):
    service_id: StrictStr
    interface: StrictStr = Field(pattern=r"^(public|internal|admin)$")
    url: StrictStr = Field(min_length=1, max_length=1024)
    region_id: StrictStr | None = None
    region: StrictStr | None = None
    enabled: StrictBool = True


class EndpointPatch(b.Loose):
    service_id: StrictStr | None = None
    interface: StrictStr | None = Field(default=None, pattern=r"^(public|internal|admin)$")
    url: StrictStr | None = Field(default=None, min_length=1, max_length=1024)
    region_id: StrictStr | None = None
    region: StrictStr | None = None
    enabled: StrictBool | None = None


class RegionBody(b.Loose):
    id: Id | None = None
    description: StrictStr = ""
    parent_region_id: StrictStr | None = None


class RegionPatch(b.Loose):
    description: StrictStr | None = None
    parent_region_id: StrictStr | None = None


# ---- views ---------------------------------------------------------------------------
def _service_view(request: Request, o: Obj) -> Obj:
    s = o["spec"]
    sid = o["metadata"]["name"]
    return {"id": sid, "type": s.get("type", ""), "name": s.get("name"),
            "enabled": s.get("enabled", True),
            "description": s.get("description"), "links": links(request, f"services/{sid}")}


def _endpoint_view(request: Request, o: Obj) -> Obj:
    s, eid = o["spec"], o["metadata"]["name"]
    return {"id": eid, "service_id": s.get("serviceId", ""),
            "interface": s.get("interface", "public"), "url": s.get("url", ""),
            "region_id": s.get("regionId"), "region": s.get("regionId"),
            "enabled": s.get("enabled", True), "links": links(request, f"endpoints/{eid}")}


def _region_view(request: Request, o: Obj) -> Obj:
    s, rid = o["spec"], o["metadata"]["name"]
    return {"id": rid, "description": s.get("description", ""),
            "parent_region_id": s.get("parentRegionId"), "links": links(request,
                                                                        f"regions/{rid}")}


def _builtin(request: Request, kind: str) -> list[Obj]:
    """kumo's own catalog as stored-object look-alikes (never written)."""
    rt = runtime(request)
    if kind == m.REGION:
        return [m.obj(m.REGION, rt.config.region, {"description": ""})]
    out = []
    for s in catalog(rt):
        if kind == m.SERVICE:
            out.append(m.obj(m.SERVICE, s["id"], {"type": s["type"], "name": s["name"],
                                                  "enabled": True, "description": ""}))
            continue
        out += [m.obj(m.ENDPOINT, e["id"], {
            "serviceId": s["id"], "interface": e["interface"], "url": e["url"],
            "regionId": e["region_id"], "enabled": True}) for e in s["endpoints"]]
    return out


KINDS = {m.SERVICE: ("service", _service_view), m.ENDPOINT: ("endpoint", _endpoint_view),
         m.REGION: ("region", _region_view)}
FILTERS = {m.SERVICE: {"type": "type", "name": "name"},
           m.ENDPOINT: {"interface": "interface", "service_id": "serviceId",
                        "region_id": "regionId"},
           m.REGION: {"parent_region_id": "parentRegionId"}}


async def _all(request: Request, kind: str) -> list[Obj]:
    stored = (await runtime(request).objects.list(kind, "")).items
    return _builtin(request, kind) + stored


async def _find(request: Request, kind: str, oid: str) -> tuple[Obj, bool]:
    """The object and whether it is built in; 404 if neither."""
    for o in _builtin(request, kind):
        if o["metadata"]["name"] == oid:
            return o, True
    got = await runtime(request).objects.try_get(kind, "", oid)
    if got is None:
        raise ApiError(404, f"Could not find {KINDS[kind][0]}: {oid}.")
    return got, False


async def _listing(request: Request, kind: str) -> Response:
    await authenticate(request)
    key, view = KINDS[kind]
    items = await _all(request, kind)
    for param, field in FILTERS[kind].items():
        if param in request.query_params:
            items = [o for o in items if o["spec"].get(field) == request.query_params[param]]
    return collection(request, key + "s", [view(request, o) for o in items])


async def _create(request: Request, kind: str, oid: str, spec: Obj) -> Response:
    key, view = KINDS[kind]
    try:
        obj = await runtime(request).objects.create(m.obj(kind, oid, spec))
    except store.AlreadyExists as exc:
        raise ApiError(409, f"Conflict occurred attempting to store {key} - Duplicate ID, "
                            f"{oid}.") from exc
    return JSONResponse({key: view(request, obj)}, status_code=201)


async def _one(request: Request, kind: str) -> Obj | Response:
    """GET answers; PATCH/PUT/DELETE get the stored object (403 for a built-in one)."""
    key, view = KINDS[kind]
    if request.method == "GET":
        await authenticate(request)
    else:
        await admin(request)
    obj, built_in = await _find(request, kind, request.path_params["id"])
    if request.method == "GET":
        return JSONResponse({key: view(request, obj)})
    if built_in:
        raise ApiError(403, BUILT_IN.format(what=key))
    return obj


async def _update(request: Request, kind: str, obj: Obj, patch: Any,
                  fields: dict[str, str]) -> Response:
    key, view = KINDS[kind]
    for src, dst in fields.items():
        if getattr(patch, src) is not None:
            obj["spec"][dst] = getattr(patch, src)
    return JSONResponse({key: view(request, await save(runtime(request), obj))})


async def _delete(request: Request, kind: str, oid: str) -> Response:
    try:
        await runtime(request).objects.delete(kind, "", oid)
    except store.NotFound as exc:
        raise ApiError(404, f"Could not find {KINDS[kind][0]}: {oid}.") from exc
    return Response(status_code=204)


# ---- services ------------------------------------------------------------------------
async def services(request: Request) -> Response:
    if request.method == "GET":
        return await _listing(request, m.SERVICE)
    await admin(request)
    s = b.parse(ServiceBody, await read_json(request), "service")
    return await _create(request, m.SERVICE, m.new_id(), {
        "type": s.type, "name": s.name, "description": s.description, "enabled": s.enabled})


async def service(request: Request) -> Response:
    obj = await _one(request, m.SERVICE)
    if isinstance(obj, Response):
        return obj
    if request.method == "DELETE":
        sid = obj["metadata"]["name"]
        for e in (await runtime(request).objects.list(m.ENDPOINT, "")).items:
            if e["spec"].get("serviceId") == sid:
                await _delete(request, m.ENDPOINT, e["metadata"]["name"])
        return await _delete(request, m.SERVICE, sid)
    patch = b.parse(ServicePatch, await read_json(request), "service")
    return await _update(request, m.SERVICE, obj, patch, {
        "type": "type", "name": "name", "description": "description", "enabled": "enabled"})


# ---- endpoints -----------------------------------------------------------------------
async def _endpoint_refs(request: Request, e: Any) -> str | None:
    """Checks the endpoint's service; the region named by ``region`` (Keystone's legacy
    field) is created when missing, one named by ``region_id`` must exist."""
    if e.service_id is not None:
        try:
            await _find(request, m.SERVICE, e.service_id)
        except ApiError as exc:
            raise ApiError(400, f"Could not find service: {e.service_id}.") from exc
    region = e.region_id or e.region
    if region is None:
        return None
    try:
        await _find(request, m.REGION, region)
    except ApiError as exc:
        if e.region_id:
            raise ApiError(400, f"Could not find region: {region}.") from exc
        try:
            await runtime(request).objects.create(m.obj(m.REGION, region, {"description": ""}))
        except store.AlreadyExists:
            pass
    return region


async def endpoints(request: Request) -> Response:
    if request.method == "GET":
        return await _listing(request, m.ENDPOINT)
    await admin(request)
    e = b.parse(EndpointBody, await read_json(request), "endpoint")
    region = await _endpoint_refs(request, e)
    return await _create(request, m.ENDPOINT, m.new_id(), {
        "serviceId": e.service_id, "interface": e.interface, "url": e.url,
        "regionId": region, "enabled": e.enabled})


async def endpoint(request: Request) -> Response:
    obj = await _one(request, m.ENDPOINT)
    if isinstance(obj, Response):
        return obj
    if request.method == "DELETE":
        return await _delete(request, m.ENDPOINT, obj["metadata"]["name"])
    e = b.parse(EndpointPatch, await read_json(request), "endpoint")
    region = await _endpoint_refs(request, e)
    if region is not None:
        obj["spec"]["regionId"] = region
    return await _update(request, m.ENDPOINT, obj, e, {
        "service_id": "serviceId", "interface": "interface", "url": "url",
        "enabled": "enabled"})


# ---- regions -------------------------------------------------------------------------
async def _parent(request: Request, parent: str | None, rid: str | None = None) -> None:
    if parent is None:
        return
    if parent == rid:
        raise ApiError(400, "A region cannot be its own parent.")
    try:
        await _find(request, m.REGION, parent)
    except ApiError as exc:
        raise ApiError(404, f"Could not find region: {parent}.") from exc


async def regions(request: Request) -> Response:
    if request.method == "GET":
        return await _listing(request, m.REGION)
    await admin(request)
    r = b.parse(RegionBody, await read_json(request), "region")
    await _parent(request, r.parent_region_id)
    return await _create(request, m.REGION, r.id or m.new_id(), {
        "description": r.description, "parentRegionId": r.parent_region_id})


async def region(request: Request) -> Response:
    if request.method == "PUT":  # create with a chosen id
        await admin(request)
        r = b.parse(RegionBody, await read_json(request), "region")
        rid = _region_id(request.path_params["id"])
        await _parent(request, r.parent_region_id, rid)
        return await _create(request, m.REGION, rid, {
            "description": r.description, "parentRegionId": r.parent_region_id})
    obj = await _one(request, m.REGION)
    if isinstance(obj, Response):
        return obj
    rid = obj["metadata"]["name"]
    if request.method == "DELETE":
        children = [o for o in await _all(request, m.REGION)
                    if o["spec"].get("parentRegionId") == rid]
        if children:
            raise ApiError(403, f"Cannot delete region {rid}: it has child regions.")
        return await _delete(request, m.REGION, rid)
    r = b.parse(RegionPatch, await read_json(request), "region")
    await _parent(request, r.parent_region_id, rid)
    return await _update(request, m.REGION, obj, r, {
        "description": "description", "parent_region_id": "parentRegionId"})


def _region_id(rid: str) -> str:
    if not rid or len(rid) > 255:
        raise ApiError(400, "Invalid input for field 'region.id'.")
    return rid
