"""Endpoint groups (``/v3/OS-EP-FILTER``): a named filter over the catalog's endpoints
(``service_id``, ``interface``, ``region_id``) associated with projects. A token scoped to
a project with associated groups carries only the endpoints some group matches
(``token_catalog``); projects without any see the whole catalog, as in Keystone.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import identity as m

from ...common import read_json
from ...errors import ApiError
from ...runtime import Runtime, runtime
from . import body as b
from .resources import admin
from .views import catalog, collection, get_obj, links, project_view, save

Obj = dict[str, Any]
FILTERS = ("service_id", "interface", "region_id")


class GroupBody(b.Loose):
    name: StrictStr = Field(min_length=1, max_length=255)
    description: StrictStr | None = None
    filters: dict[str, StrictStr] = Field(default_factory=dict)


class GroupPatch(b.Loose):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    description: StrictStr | None = None
    filters: dict[str, StrictStr] | None = None


def _filters(f: dict[str, str] | None) -> dict[str, str] | None:
    if f is not None and (not f or set(f) - set(FILTERS)):
        raise ApiError(400, f"Invalid input for field 'filters': keys among {FILTERS}.")
    return f


def _view(request: Request, o: Obj) -> Obj:
    s, gid = o["spec"], o["metadata"]["name"]
    return {"id": gid, "name": s.get("name", ""), "description": s.get("description"),
            "filters": s.get("filters") or {},
            "links": links(request, f"OS-EP-FILTER/endpoint_groups/{gid}")}


def matches(filters: dict[str, str], endpoint: Obj) -> bool:
    return all(endpoint.get(k) == v for k, v in filters.items())


async def stored_catalog(rt: Runtime) -> list[Obj]:
    """Services added through /v3/services, with their enabled endpoints."""
    eps = [e["spec"] | {"id": e["metadata"]["name"]}
           for e in (await rt.objects.list(m.ENDPOINT, "")).items]
    out = []
    for s in (await rt.objects.list(m.SERVICE, "")).items:
        sid, spec = s["metadata"]["name"], s["spec"]
        mine = [{"id": e["id"], "interface": e.get("interface", "public"),
                 "url": e.get("url", ""), "region": e.get("regionId"),
                 "region_id": e.get("regionId")} for e in eps
                if e.get("serviceId") == sid and e.get("enabled", True)]
        if spec.get("enabled", True) and mine:
            out.append({"id": sid, "type": spec.get("type", ""), "name": spec.get("name"),
                        "endpoints": mine})
    return out


async def token_catalog(rt: Runtime, project_id: str | None) -> list[Obj]:
    """The catalog a token carries: kumo's services and stored ones, narrowed to the
    project's endpoint groups when it has any."""
    full = catalog(rt) + await stored_catalog(rt)
    groups = [g["spec"].get("filters") or {} for g in (await rt.objects.list(
        m.ENDPOINT_GROUP, "")).items if project_id in (g["spec"].get("projects") or [])]
    if not project_id or not groups:
        return full
    out = []
    for svc in full:
        eps = [e for e in svc["endpoints"]
               if any(matches(f, {**e, "service_id": svc["id"]}) for f in groups)]
        if eps:
            out.append({**svc, "endpoints": eps})
    return out


async def endpoint_groups(request: Request) -> Response:
    await admin(request)
    rt = runtime(request)
    if request.method == "GET":
        items = (await rt.objects.list(m.ENDPOINT_GROUP, "")).items
        if "name" in request.query_params:
            items = [i for i in items if i["spec"].get("name") == request.query_params["name"]]
        return collection(request, "endpoint_groups", [_view(request, i) for i in items])
    g = b.parse(GroupBody, await read_json(request), "endpoint_group")
    obj = await rt.objects.create(m.obj(m.ENDPOINT_GROUP, m.new_id(), {
        "name": g.name, "description": g.description, "filters": _filters(g.filters),
        "projects": []}))
    return JSONResponse({"endpoint_group": _view(request, obj)}, status_code=201)


async def _group(request: Request) -> Obj:
    await admin(request)
    return await get_obj(request, m.ENDPOINT_GROUP, request.path_params["id"],
                         "endpoint group")


async def endpoint_group(request: Request) -> Response:
    obj = await _group(request)
    rt = runtime(request)
    if request.method == "HEAD":
        return Response(status_code=200)
    if request.method == "GET":
        return JSONResponse({"endpoint_group": _view(request, obj)})
    if request.method == "DELETE":
        try:
            await rt.objects.delete(m.ENDPOINT_GROUP, "", obj["metadata"]["name"])
        except store.NotFound:
            pass
        rt.tokens.invalidate()
        return Response(status_code=204)
    g = b.parse(GroupPatch, await read_json(request), "endpoint_group")
    for field in ("name", "description"):
        if getattr(g, field) is not None:
            obj["spec"][field] = getattr(g, field)
    if g.filters is not None:
        obj["spec"]["filters"] = _filters(g.filters)
    return JSONResponse({"endpoint_group": _view(request, await save(rt, obj))})


async def group_endpoints(request: Request) -> Response:
    """GET /endpoint_groups/{id}/endpoints: the endpoints the group's filters match."""
    obj = await _group(request)
    rt = runtime(request)
    f = obj["spec"].get("filters") or {}
    out = [{**e, "service_id": s["id"], "enabled": True,
            "links": links(request, f"endpoints/{e['id']}")}
           for s in catalog(rt) + await stored_catalog(rt) for e in s["endpoints"]
           if matches(f, {**e, "service_id": s["id"]})]
    return JSONResponse({"endpoints": out, "links": {"self": str(request.url)}})


async def group_projects(request: Request) -> Response:
    """GET /endpoint_groups/{id}/projects, and PUT/GET/HEAD/DELETE of one association."""
    obj = await _group(request)
    rt = runtime(request)
    pid = request.path_params.get("project")
    projects: list[str] = list(obj["spec"].get("projects") or [])
    if pid is None:
        found = [await rt.objects.try_get(m.PROJECT, "", p) for p in projects]
        return JSONResponse({"projects": [project_view(request, p) for p in found if p],
                             "links": {"self": str(request.url)}})
    await get_obj(request, m.PROJECT, pid, "project")
    if request.method == "PUT":
        if pid not in projects:
            obj["spec"]["projects"] = [*projects, pid]
            await save(rt, obj)
            rt.tokens.invalidate()
        return Response(status_code=204)
    if pid not in projects:
        raise ApiError(404, f"Project {pid} is not associated with the endpoint group.")
    if request.method == "DELETE":
        obj["spec"]["projects"] = [p for p in projects if p != pid]
        await save(rt, obj)
        rt.tokens.invalidate()
        return Response(status_code=204)
    if request.method == "HEAD":
        return Response(status_code=200)
    return JSONResponse({"project": project_view(request, await get_obj(
        request, m.PROJECT, pid, "project"))})


async def project_groups(request: Request) -> Response:
    """GET /OS-EP-FILTER/projects/{project}/endpoint_groups."""
    await admin(request)
    pid = request.path_params["project"]
    await get_obj(request, m.PROJECT, pid, "project")
    items = [g for g in (await runtime(request).objects.list(m.ENDPOINT_GROUP, "")).items
             if pid in (g["spec"].get("projects") or [])]
    return JSONResponse({"endpoint_groups": [_view(request, g) for g in items],
                         "links": {"self": str(request.url)}})
