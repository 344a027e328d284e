"""Server metadata (/servers/{id}/metadata) and tags (/servers/{id}/tags, 2.26).

Both live in Server.spec and are written with CAS. Writes need the server in
an active, paused, suspended or stopped vm_state, as in Nova; metadata writes
also respect the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...auth import AuthContext
from ...runtime import runtime
from .actions import check_lock
from .common import (
    bad,
    body_of,
    caller,
    compute_root,
    conflict,
    find_server,
    forbidden,
    mutate_server,
    not_found,
    require_member,
    stamp_updated,
)
from .microversion import at_least
from .quotas import limits_for
from .schemas import MAX_TAGS, MetaBody, MetadataBody, TagsBody, _tag
from .views import effective_state

Obj = dict[str, Any]
WRITABLE = ("active", "paused", "suspended", "stopped")


def _check_writable(server: Obj, action: str) -> None:
    vm, _ = effective_state(server)
    if vm not in WRITABLE or server["metadata"].get("deletionTimestamp"):
        sid = server["metadata"]["name"]
        raise conflict(f"Cannot '{action}' instance {sid} while it is in vm_state {vm}")


async def _server(request: Request, write: str | None = None) -> tuple[AuthContext, Obj]:
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    if write:
        require_member(ctx, write)
    return ctx, server


async def _write(request: Request, server: Obj, change: Callable[[Obj], None]) -> Obj:
    def full(obj: Obj) -> None:
        change(obj)
        stamp_updated(obj)

    return await mutate_server(runtime(request).objects, server, full)


# ---- metadata ------------------------------------------------------------------
async def _meta_write(request: Request, ctx: AuthContext, server: Obj,
                      update: Callable[[dict[str, str]], dict[str, str]]) -> dict[str, str]:
    limit = (await limits_for(runtime(request).objects,
                              server["metadata"]["namespace"]))["metadata_items"]

    def change(obj: Obj) -> None:
        check_lock(ctx, obj)
        _check_writable(obj, "update metadata")
        new = update(dict(obj["spec"].get("metadata") or {}))
        if 0 <= limit < len(new):
            raise forbidden(f"Maximum number of metadata items exceeds {limit}")
        obj["spec"]["metadata"] = new

    updated = await _write(request, server, change)
    return dict(updated["spec"].get("metadata") or {})


async def list_metadata(request: Request) -> Response:
    _, server = await _server(request)
    return JSONResponse({"metadata": dict(server["spec"].get("metadata") or {})})


async def create_metadata(request: Request) -> Response:
    ctx, server = await _server(request, "os_compute_api:server-metadata:create")
    body = await body_of(request, MetadataBody, "metadata")
    merged = await _meta_write(request, ctx, server, lambda m: {**m, **body.metadata})
    return JSONResponse({"metadata": merged})


async def replace_metadata(request: Request) -> Response:
    ctx, server = await _server(request, "os_compute_api:server-metadata:update_all")
    body = await body_of(request, MetadataBody, "metadata")
    new = await _meta_write(request, ctx, server, lambda m: dict(body.metadata))
    return JSONResponse({"metadata": new})


async def show_metadata_item(request: Request) -> Response:
    _, server = await _server(request)
    key = request.path_params["key"]
    meta = server["spec"].get("metadata") or {}
    if key not in meta:
        raise not_found("Metadata item was not found")
    return JSONResponse({"meta": {key: meta[key]}})


async def update_metadata_item(request: Request) -> Response:
    ctx, server = await _server(request, "os_compute_api:server-metadata:update")
    key = request.path_params["key"]
    body = await body_of(request, MetaBody, "meta")
    if len(body.meta) > 1:
        raise bad("Request body contains too many items")
    if key not in body.meta:
        raise bad("Request body and URI mismatch")
    await _meta_write(request, ctx, server, lambda m: {**m, key: body.meta[key]})
    return JSONResponse({"meta": {key: body.meta[key]}})


async def delete_metadata_item(request: Request) -> Response:
    ctx, server = await _server(request, "os_compute_api:server-metadata:delete")
    key = request.path_params["key"]
    if key not in (server["spec"].get("metadata") or {}):
        raise not_found("Metadata item was not found")

    def drop(m: dict[str, str]) -> dict[str, str]:
        if key not in m:
            raise not_found("Metadata item was not found")
        return {k: v for k, v in m.items() if k != key}

    await _meta_write(request, ctx, server, drop)
    return Response(status_code=204)


# ---- tags (2.26) ----------------------------------------------------------------
def _need_tags(request: Request) -> None:
    if not at_least(request, "2.26"):
        raise not_found("The resource could not be found.")


async def list_tags(request: Request) -> Response:
    _need_tags(request)
    _, server = await _server(request)
    return JSONResponse({"tags": list(server["spec"].get("tags") or [])})


async def replace_tags(request: Request) -> Response:
    _need_tags(request)
    _, server = await _server(request, "os_compute_api:os-server-tags:update_all")
    body = await body_of(request, TagsBody, "tags")

    def change(obj: Obj) -> None:
        _check_writable(obj, "update tags")
        obj["spec"]["tags"] = sorted(set(body.tags))

    updated = await _write(request, server, change)
    return JSONResponse({"tags": updated["spec"]["tags"]})


async def delete_tags(request: Request) -> Response:
    _need_tags(request)
    _, server = await _server(request, "os_compute_api:os-server-tags:delete_all")

    def change(obj: Obj) -> None:
        _check_writable(obj, "delete tags")
        obj["spec"]["tags"] = []

    await _write(request, server, change)
    return Response(status_code=204)


async def check_tag(request: Request) -> Response:
    _need_tags(request)
    _, server = await _server(request)
    tag = request.path_params["tag"]
    if tag not in (server["spec"].get("tags") or []):
        raise not_found(f"Server {server['metadata']['name']} has no tag '{tag}'")
    return Response(status_code=204)


async def add_tag(request: Request) -> Response:
    _need_tags(request)
    _, server = await _server(request, "os_compute_api:os-server-tags:update")
    tag = request.path_params["tag"]
    try:
        _tag(tag)
    except ValueError as exc:
        raise bad(f"Tag '{tag}' is invalid. It must be a non empty string without "
                  "characters '/' and ','") from exc
    if tag in (server["spec"].get("tags") or []):
        _check_writable(server, "update tag")
        return Response(status_code=204)

    def change(obj: Obj) -> None:
        _check_writable(obj, "update tag")
        tags = set(obj["spec"].get("tags") or [])
        if tag not in tags and len(tags) >= MAX_TAGS:
            raise bad(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
        obj["spec"]["tags"] = sorted(tags | {tag})

    await _write(request, server, change)
    sid = server["metadata"]["name"]
    return Response(status_code=201, headers={
        "Location": f"{compute_root(request)}/v2.1/servers/{sid}/tags/{tag}"})


async def delete_tag(request: Request) -> Response:
    _need_tags(request)
    _, server = await _server(request, "os_compute_api:os-server-tags:delete")
    tag = request.path_params["tag"]

    def change(obj: Obj) -> None:
        _check_writable(obj, "delete tag")
        tags = obj["spec"].get("tags") or []
        if tag not in tags:
            raise not_found(f"Server {obj['metadata']['name']} has no tag '{tag}'")
        obj["spec"]["tags"] = [t for t in tags if t != tag]

    await _write(request, server, change)
    return Response(status_code=204)
