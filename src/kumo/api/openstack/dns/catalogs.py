"""/v2/tsigkeys, /v2/tlds, /v2/blacklists: Designate's admin lists (admins only)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import dns_admin as core
from kumo.model import dns as dm

from ...runtime import runtime
from .common import admin_caller, base_url, body_of, iso, listing

Obj = dict[str, Any]
PATHS = {"tsigkeys": (dm.DNS_TSIG_KEY, "tsigkey"), "tlds": (dm.DNS_TLD, "tld"),
         "blacklists": (dm.DNS_BLACKLIST, "blacklist")}
FIELDS = {dm.DNS_TSIG_KEY: (("name", "name"), ("algorithm", "algorithm"),
                            ("secret", "secret"), ("scope", "scope"),
                            ("resource_id", "resourceId")),
          dm.DNS_TLD: (("name", "name"), ("description", "description")),
          dm.DNS_BLACKLIST: (("pattern", "pattern"), ("description", "description"))}


def _what(request: Request) -> tuple[str, str, str]:
    path = request.url.path.rstrip("/").split("/v2/", 1)[1].split("/")[0]
    kind, _ = PATHS[path]
    return path, kind, path


def _view(request: Request, path: str, kind: str, obj: Obj) -> Obj:
    md, spec = obj["metadata"], obj["spec"]
    out = {"id": md["name"], "created_at": iso(md.get("creationTimestamp")),
           "updated_at": None,
           "links": {"self": f"{base_url(request)}/v2/{path}/{md['name']}"}}
    for api, field in FIELDS[kind]:
        out[api] = spec.get(field)
    return out


async def index(request: Request) -> Response:
    await admin_caller(request)
    path, kind, key = _what(request)
    rows = [_view(request, path, kind, o)
            for o in (await runtime(request).objects.list(kind, None)).items]
    filters = tuple(api for api, _ in FIELDS[kind] if api != "secret")
    return listing(request, rows, key, filters, ("created_at", "id", *filters))


async def create(request: Request) -> Response:
    actor = await admin_caller(request)
    path, kind, _ = _what(request)
    obj = await core.create(runtime(request).objects, actor, kind, await body_of(request))
    return JSONResponse(_view(request, path, kind, obj), status_code=201)


async def show(request: Request) -> Response:
    await admin_caller(request)
    path, kind, _ = _what(request)
    obj = await core.get(runtime(request).objects, kind, request.path_params["item_id"])
    return JSONResponse(_view(request, path, kind, obj))


async def update(request: Request) -> Response:
    actor = await admin_caller(request)
    path, kind, _ = _what(request)
    obj = await core.update(runtime(request).objects, actor, kind,
                            request.path_params["item_id"], await body_of(request))
    return JSONResponse(_view(request, path, kind, obj))


async def delete(request: Request) -> Response:
    actor = await admin_caller(request)
    _, kind, _ = _what(request)
    await core.delete(runtime(request).objects, actor, kind, request.path_params["item_id"])
    return Response(status_code=204)
