"""Glance metadata definitions (``/v2/metadefs``): namespaces with their objects,
properties, tags and resource type associations.

One ``MetadefNamespace`` object holds a namespace and all its parts, so each change is
one compare-and-swap write and deleting the namespace takes its parts along. As in
Glance's default policy, admins write; everyone reads public namespaces, a project its
own private ones (others' are 404).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.common.clock import now_iso
from kumo.model.image import METADEF_NAMESPACE as NS

from ...auth import AuthContext, authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime

Obj = dict[str, Any]
# Glance's shipped resource types (``glance-manage db_load_metadefs``).
RESOURCE_TYPES = ("OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor",
                  "OS::Nova::Aggregate", "OS::Nova::Server", "OS::Trove::Instance",
                  "OS::Software::WebServer", "OS::Software::Database",
                  "OS::Software::Runtimes")
CREATED = "2026-01-01T00:00:00Z"
PARTS = {"objects": "object", "properties": "property", "tags": "tag"}


def _missing(what: str, name: str, ns: str | None = None) -> ApiError:
    where = f" in namespace={ns}" if ns else ""
    return ApiError(404, f"Metadata definition {what}={name} was not found{where}.",
                    reason="NotFound")


def _bad(msg: str) -> ApiError:
    return ApiError(400, msg, reason="BadRequest")


def _name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 80 or "/" in value:
        raise _bad(f"Invalid '{field}': 1 to 80 characters without '/'.")
    return value


def _visible(ctx: AuthContext, obj: Obj) -> bool:
    s = obj["spec"]
    return ctx.is_admin or s.get("visibility") == "public" or (
        ctx.project_id is not None and s.get("owner") == ctx.project_id)


async def _admin(request: Request) -> AuthContext:
    ctx = await authenticate(request)
    if not ctx.is_admin:
        raise ApiError(403, "Only admins may change metadata definitions.", reason="Forbidden")
    return ctx


async def _read(request: Request) -> Obj:
    """The path's namespace if the caller may see it (else 404)."""
    ctx = await authenticate(request)
    ns = request.path_params["ns"]
    obj = await runtime(request).objects.try_get(NS, "", ns)
    if obj is None or not _visible(ctx, obj):
        raise _missing("namespace", ns)
    return obj


async def _change(request: Request, fn: Callable[[Obj], Any]) -> tuple[Obj, Any]:
    """Admin only: apply ``fn`` to the path's namespace with CAS; (new object, fn's result)."""
    await _admin(request)
    ns = request.path_params["ns"]
    out: list[Any] = [None]

    def apply(obj: Obj) -> object:
        before = copy.deepcopy(obj)
        out[0] = fn(obj)
        obj["spec"]["updatedAt"] = now_iso()
        return store.UNCHANGED if obj["spec"] == {**before["spec"],
                                                  "updatedAt": obj["spec"]["updatedAt"]} \
            else None

    try:
        obj = await runtime(request).objects.mutate(NS, "", ns, apply, attempts=20)
    except store.NotFound as exc:
        raise _missing("namespace", ns) from exc
    except store.Conflict as exc:
        raise ApiError(409, f"Namespace {ns} is being changed concurrently; retry.",
                       reason="Conflict") from exc
    return obj, out[0]


# ---- views ---------------------------------------------------------------------------
def _ns_view(obj: Obj, full: bool = False) -> Obj:
    s, ns = obj["spec"], obj["metadata"]["name"]
    out: Obj = {"namespace": ns, "display_name": s.get("displayName") or ns,
                "description": s.get("description") or "",
                "visibility": s.get("visibility", "private"),
                "protected": s.get("protected", False), "owner": s.get("owner"),
                "created_at": s.get("createdAt"), "updated_at": s.get("updatedAt"),
                "schema": "/v2/schemas/metadefs/namespace",
                "self": f"/v2/metadefs/namespaces/{ns}"}
    if s.get("resourceTypeAssociations"):
        out["resource_type_associations"] = s["resourceTypeAssociations"]
    if full:
        for part in ("properties", "objects"):
            if s.get(part):
                out[part] = (s[part] if part == "properties" else
                             [_part_view(obj, "objects", v) for v in s[part].values()])
    return out


def _part_view(obj: Obj, part: str, value: Obj) -> Obj:
    ns = obj["metadata"]["name"]
    if part == "objects":
        return {**value, "schema": "/v2/schemas/metadefs/object",
                "self": f"/v2/metadefs/namespaces/{ns}/objects/{value['name']}"}
    return dict(value)


# ---- namespaces ----------------------------------------------------------------------
def _ns_fields(body: Obj, spec: Obj) -> None:
    for src, dst in (("display_name", "displayName"), ("description", "description")):
        if src in body:
            if body[src] is not None and not isinstance(body[src], str):
                raise _bad(f"Invalid '{src}': a string is required.")
            spec[dst] = body[src]
    if "visibility" in body:
        if body["visibility"] not in ("public", "private"):
            raise _bad("Invalid 'visibility': public or private.")
        spec["visibility"] = body["visibility"]
    if "protected" in body:
        if not isinstance(body["protected"], bool):
            raise _bad("Invalid 'protected': a boolean is required.")
        spec["protected"] = body["protected"]


async def namespaces(request: Request) -> Response:
    if request.method == "GET":
        ctx = await authenticate(request)
        items = [_ns_view(o) for o in (await runtime(request).objects.list(NS, "")).items
                 if _visible(ctx, o)]
        return JSONResponse({"namespaces": items, "schema": "/v2/schemas/metadefs/namespaces",
                             "first": "/v2/metadefs/namespaces"})
    ctx = await _admin(request)
    body = await read_json(request)
    ns = _name(body.get("namespace"), "namespace")
    now = now_iso()
    spec: Obj = {"visibility": "private", "protected": False, "createdAt": now,
                 "updatedAt": now, "owner": body.get("owner") or ctx.project_id,
                 "resourceTypeAssociations": [], "properties": {}, "objects": {}, "tags": {}}
    _ns_fields(body, spec)
    for a in body.get("resource_type_associations") or []:
        spec["resourceTypeAssociations"].append(_association(a, now))
    obj = {"apiVersion": "kumo.io/v1", "kind": NS,
           "metadata": {"name": ns, "namespace": ""}, "spec": spec}
    try:
        obj = await runtime(request).objects.create(obj)
    except store.AlreadyExists as exc:
        raise ApiError(409, f"Namespace {ns} already exists.", reason="Conflict") from exc
    return JSONResponse(_ns_view(obj), status_code=201)


async def namespace(request: Request) -> Response:
    if request.method == "GET":
        return JSONResponse(_ns_view(await _read(request), full=True))
    if request.method == "DELETE":
        await _admin(request)
        obj = await _read(request)
        if obj["spec"].get("protected"):
            raise ApiError(403, f"Namespace {obj['metadata']['name']} is protected and "
                                "cannot be deleted.", reason="Forbidden")
        await runtime(request).objects.delete(NS, "", obj["metadata"]["name"])
        return Response(status_code=204)
    body = await read_json(request)
    if body.get("namespace", request.path_params["ns"]) != request.path_params["ns"]:
        raise _bad("Renaming a namespace is not supported.")
    obj, _ = await _change(request, lambda o: _ns_fields(body, o["spec"]))
    return JSONResponse(_ns_view(obj))


# ---- objects, properties, tags --------------------------------------------------------
def _part_body(part: str, body: Obj, name: str, old: Obj | None) -> Obj:
    """A stored object, property or tag from its request body."""
    now = now_iso()
    stamps = {"created_at": (old or {}).get("created_at", now), "updated_at": now}
    if part == "tags":
        return {"name": name, **stamps}
    if part == "objects":
        props = body.get("properties") or {}
        required = body.get("required") or []
        if not isinstance(props, dict) or not isinstance(required, list):
            raise _bad("Invalid object: 'properties' is a map, 'required' a list.")
        return {"name": name, "description": body.get("description"), "required": required,
                "properties": props, **stamps}
    if not isinstance(body.get("title"), str) or not isinstance(body.get("type"), str):
        raise _bad("Invalid property: 'title' and 'type' are required strings.")
    return {k: v for k, v in body.items() if k != "name"} | {"name": name}


def _list_view(obj: Obj, part: str) -> Obj:
    items = obj["spec"].get(part) or {}
    if part == "properties":
        return {"properties": items}
    out: Obj = {part: [_part_view(obj, part, v) for v in items.values()]}
    if part == "objects":
        out["schema"] = "/v2/schemas/metadefs/objects"
    return out


def collection(part: str) -> Callable[[Request], Any]:
    """GET/POST/DELETE /v2/metadefs/namespaces/{ns}/<part>."""
    async def handler(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(_list_view(await _read(request), part))
        if request.method == "DELETE":
            await _change(request, lambda o: o["spec"].__setitem__(part, {}))
            return Response(status_code=204)
        body = await read_json(request)
        if part == "tags":
            return await _replace_tags(request, body)
        name = _name(body.get("name"))

        def add(o: Obj) -> Obj:
            items = o["spec"].setdefault(part, {})
            if name in items:
                raise ApiError(409, f"A metadata definition {PARTS[part]} with name={name} "
                                    "already exists.", reason="Conflict")
            items[name] = _part_body(part, body, name, None)
            return items[name]

        obj, made = await _change(request, add)
        return JSONResponse(_part_view(obj, part, made), status_code=201)
    return handler


async def _replace_tags(request: Request, body: Obj) -> Response:
    tags = body.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        raise _bad("Invalid 'tags': a list of {\"name\": ...}.")
    names = [_name(t.get("name")) for t in tags]
    if len(set(names)) != len(names):
        raise ApiError(409, "Duplicate tag names.", reason="Conflict")
    append = request.headers.get("x-openstack-append", "").lower() == "true"

    def put(o: Obj) -> None:
        items = (o["spec"].get("tags") or {}) if append else {}
        for n in names:
            items[n] = _part_body("tags", {}, n, items.get(n))
        o["spec"]["tags"] = items

    await _change(request, put)
    return JSONResponse({"tags": [{"name": n} for n in names]}, status_code=201)


def member(part: str) -> Callable[[Request], Any]:
    """GET/PUT/DELETE (and POST for tags) /v2/metadefs/namespaces/{ns}/<part>/{name}."""
    async def handler(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "GET":
            obj = await _read(request)
            item = (obj["spec"].get(part) or {}).get(name)
            if item is None:
                raise _missing(PARTS[part], name, obj["metadata"]["name"])
            return JSONResponse(_part_view(obj, part, item))
        body = {} if request.method in ("DELETE", "POST") else await read_json(request)
        new = name if request.method != "PUT" else _name(body.get("name", name))

        def edit(o: Obj) -> Obj | None:
            items = o["spec"].setdefault(part, {})
            if request.method == "POST":  # tags only: create one
                if name in items:
                    raise ApiError(409, f"Tag {name} already exists.", reason="Conflict")
                items[name] = _part_body(part, {}, _name(name), None)
                return items[name]
            if name not in items:
                raise _missing(PARTS[part], name, o["metadata"]["name"])
            old = items.pop(name)
            if request.method == "DELETE":
                return None
            if new in items:
                raise ApiError(409, f"A {PARTS[part]} named {new} already exists.",
                               reason="Conflict")
            items[new] = _part_body(part, body, new, old)
            return items[new]

        if request.method == "POST" and part != "tags":
            raise ApiError(405, "Method not allowed.", reason="MethodNotAllowed")
        obj, item = await _change(request, edit)
        if item is None:
            return Response(status_code=204)
        return JSONResponse(_part_view(obj, part, item),
                            status_code=201 if request.method == "POST" else 200)
    return handler


# ---- resource types -------------------------------------------------------------------
def _association(body: Any, now: str) -> Obj:
    if not isinstance(body, dict) or body.get("name") not in RESOURCE_TYPES:
        raise _bad(f"Invalid resource type: one of {', '.join(RESOURCE_TYPES)}.")
    return {"name": body["name"], "prefix": body.get("prefix"),
            "properties_target": body.get("properties_target"), "created_at": now,
            "updated_at": now}


async def resource_types(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse({"resource_types": [
        {"name": n, "created_at": CREATED, "updated_at": CREATED} for n in RESOURCE_TYPES]})


async def associations(request: Request) -> Response:
    """GET/POST /v2/metadefs/namespaces/{ns}/resource_types."""
    if request.method == "GET":
        obj = await _read(request)
        return JSONResponse({"resource_type_associations":
                             obj["spec"].get("resourceTypeAssociations") or []})
    made = _association(await read_json(request), now_iso())

    def add(o: Obj) -> None:
        items = o["spec"].setdefault("resourceTypeAssociations", [])
        if any(a["name"] == made["name"] for a in items):
            raise ApiError(409, f"Resource type {made['name']} is already associated.",
                           reason="Conflict")
        items.append(made)

    await _change(request, add)
    return JSONResponse(made, status_code=201)


async def association(request: Request) -> Response:
    """DELETE /v2/metadefs/namespaces/{ns}/resource_types/{name}."""
    name = request.path_params["name"]

    def drop(o: Obj) -> None:
        items = o["spec"].get("resourceTypeAssociations") or []
        if not any(a["name"] == name for a in items):
            raise _missing("resource type association", name, o["metadata"]["name"])
        o["spec"]["resourceTypeAssociations"] = [a for a in items if a["name"] != name]

    await _change(request, drop)
    return Response(status_code=204)
