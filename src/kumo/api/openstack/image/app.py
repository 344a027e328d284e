"""Glance v2, the image service: a facade over Image objects and the blob store.

Mounted at ``/image``. It holds no state of its own: image metadata is the
``Image`` kind in the store (``kumo.model.image``), image data are
content-addressed files under ``data_dir/blobs`` (``kumo.store.blobs``).

    image.py          app, version discovery, create/show/delete, import_image()
    image_model.py    Glance attributes ↔ Image object, validation, JSON views
    image_access.py   who may see/change an image; CAS read-modify-write
    image_list.py     GET /v2/images: visibility, filters, sorting, pagination
    image_patch.py    PATCH with the openstack-images-v2.x-json-patch types
    image_data.py     upload (queued → saving → active | killed) and download
    image_members.py  members and tags
    image_schemas.py  /v2/schemas/*
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kumo import store
from kumo.model import identity as idm
from kumo.model.image import IMAGE

from ...auth import authenticate
from ...common import read_json
from ...errors import TITLES, ApiError, handlers
from ...runtime import Runtime, runtime
from . import data as image_data
from . import imports
from . import list as image_list
from . import members as image_members
from . import metadefs as md
from . import patch as image_patch
from .access import (
    CAS_ATTEMPTS,
    all_images,
    check_owner_change,
    check_visibility_change,
    load,
    mutate,
    require_role_write,
    require_write,
)
from .model import (
    check_core,
    check_property,
    forbidden,
    new_image,
    not_found,
    parse_create,
    state,
    touch,
    view,
)
from .schemas import SCHEMAS

VERSIONS = [("2.7", "CURRENT"), *((f"2.{n}", "SUPPORTED") for n in range(6, -1, -1))]
IMPORT_NAMESPACE = uuid.UUID("6b1f8d8e-4a0e-5b8c-9a57-6b756d6f2d69")


def glance_body(err: ApiError) -> dict[str, Any]:
    """Glance's (webob's) JSON error: ``{"message", "code": "404 Not Found", "title"}``."""
    title = TITLES.get(err.status, "Error")
    return {"message": err.message, "code": f"{err.status} {title}", "title": title}


def image_root(request: Request) -> str:
    """This service's public URL: the configured public URL, else the request's host."""
    cfg = runtime(request).config
    base = cfg.public_url.rstrip("/") if cfg.public_url else (
        f"{request.url.scheme}://{request.headers.get('host') or request.url.netloc}")
    return base + request.scope.get("root_path", "")


# ---- discovery, schemas, info --------------------------------------------
def _versions_body(request: Request) -> dict[str, Any]:
    href = image_root(request) + "/v2/"
    return {"versions": [{"id": f"v{v}", "status": status,
                          "links": [{"rel": "self", "href": href}]} for v, status in VERSIONS]}


async def versions(request: Request) -> Response:
    return JSONResponse(_versions_body(request), status_code=300)


async def versions_explicit(request: Request) -> Response:
    return JSONResponse(_versions_body(request))


async def schema(request: Request) -> Response:
    await authenticate(request)
    make = SCHEMAS.get(request.path_params["name"])
    if make is None:
        raise ApiError(404, f"No schema named {request.path_params['name']}.", reason="NotFound")
    return JSONResponse(make())


async def metadef_schema(request: Request) -> Response:
    request.path_params["name"] = "metadefs/" + request.path_params["name"]
    return await schema(request)


async def info_stores(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse({"stores": [{"id": "local", "default": True,
                                     "description": "kumo content-addressed blob store"}]})


# ---- images ---------------------------------------------------------------
async def create(request: Request) -> Response:
    ctx = await authenticate(request)
    require_role_write(ctx)
    image_id, core, props = parse_create(await read_json(request))
    owner = core.pop("owner") if "owner" in core else ctx.project_id
    if owner != ctx.project_id:
        check_owner_change(ctx, owner)
    check_visibility_change(ctx, core.get("visibility"))
    try:
        created = await runtime(request).objects.create(new_image(image_id, owner, core, props))
    except store.AlreadyExists as exc:
        raise ApiError(409, f"Image with identifier {image_id} already exists!",
                       reason="Conflict") from exc
    return JSONResponse(view(created), status_code=201,
                        headers={"Location": f"{image_root(request)}/v2/images/{image_id}"})


async def show(request: Request) -> Response:
    _, obj = await load(request, request.path_params["image_id"])
    return JSONResponse(view(obj))


async def update(request: Request) -> Response:
    image_id = request.path_params["image_id"]
    ctx, obj = await load(request, image_id)
    draft = image_patch.media_type(request.headers.get("content-type"))
    changes = image_patch.parse(await read_json(request, require_object=False), draft)
    require_write(ctx, obj)
    saved = await mutate(runtime(request).objects, image_id,
                         lambda o: image_patch.apply(ctx, o, changes))
    return JSONResponse(view(saved))


async def delete_image(rt: Runtime, image_id: str, *, force: bool = False) -> None:
    """Delete an image (403 if protected unless forced) and then its unreferenced blob."""
    for _ in range(CAS_ATTEMPTS):
        obj = await rt.objects.try_get(IMAGE, "", image_id)
        if obj is None:
            raise not_found(image_id)
        if obj["spec"].get("protected") and not force:
            raise forbidden(f"Image {image_id} is protected and cannot be deleted.")
        try:
            await rt.objects.delete(IMAGE, "", image_id,
                                    expected_rv=int(obj["metadata"]["resourceVersion"]))
        except store.Conflict:
            continue
        except store.NotFound as exc:
            raise not_found(image_id) from exc
        await image_data.drop_blob(rt, (obj.get("status") or {}).get("blob"))
        return
    raise ApiError(409, f"Image {image_id} is being changed concurrently; retry.",
                   reason="Conflict")


async def delete(request: Request) -> Response:
    image_id = request.path_params["image_id"]
    ctx, obj = await load(request, image_id)
    require_write(ctx, obj, "delete")
    await delete_image(runtime(request), image_id)
    return Response(status_code=204)


async def action(request: Request) -> Response:
    """POST /v2/images/{id}/actions/deactivate|reactivate."""
    image_id, verb = request.path_params["image_id"], request.path_params["action"]
    ctx, obj = await load(request, image_id)
    flips = {"deactivate": ("active", "deactivated"), "reactivate": ("deactivated", "active")}
    if verb not in flips:
        raise ApiError(404, f"Unknown image action {verb}.", reason="NotFound")
    require_write(ctx, obj, verb)
    source, target = flips[verb]

    def flip(o: dict[str, Any]) -> None:
        if state(o) == target:
            return
        if state(o) != source:
            raise forbidden(f"Not allowed to {verb} image in status '{state(o)}'")
        o["status"]["state"] = target
        touch(o)

    await mutate(runtime(request).objects, image_id, flip)
    return Response(status_code=204)


def build_app() -> Starlette:
    """The Glance v2 sub-application (mount it at /image)."""
    v2 = "/v2/images/{image_id}"
    routes = [
        Route("/", versions),
        Route("/versions", versions_explicit),
        Route("/v2", versions_explicit),
        Route("/v2/", versions_explicit),
        Route("/v2/schemas/{name}", schema),
        Route("/v2/schemas/metadefs/{name}", metadef_schema),
        Route("/v2/info/import", imports.info_import),
        Route("/v2/info/stores", info_stores),
        Route("/v2/images", image_list.index, methods=["GET"]),
        Route("/v2/images", create, methods=["POST"]),
        Route(v2, show, methods=["GET"]),
        Route(v2, update, methods=["PATCH"]),
        Route(v2, delete, methods=["DELETE"]),
        Route(v2 + "/file", image_data.upload, methods=["PUT"]),
        Route(v2 + "/stage", image_data.upload, methods=["PUT"]),
        Route(v2 + "/import", imports.import_image, methods=["POST"]),
        Route(v2 + "/file", image_data.download, methods=["GET", "HEAD"]),
        Route(v2 + "/tags/{tag}", image_members.add_tag, methods=["PUT"]),
        Route(v2 + "/tags/{tag}", image_members.delete_tag, methods=["DELETE"]),
        Route(v2 + "/members", image_members.list_members, methods=["GET"]),
        Route(v2 + "/members", image_members.add_member, methods=["POST"]),
        Route(v2 + "/members/{member_id}", image_members.show_member, methods=["GET"]),
        Route(v2 + "/members/{member_id}", image_members.update_member, methods=["PUT"]),
        Route(v2 + "/members/{member_id}", image_members.delete_member, methods=["DELETE"]),
        Route(v2 + "/actions/{action}", action, methods=["POST"]),
        Route("/v2/tasks", imports.tasks, methods=["GET", "POST"]),
        Route("/v2/tasks/{task_id}", imports.task),
        Route("/v2/images/", no_image_id, methods=["GET", "PATCH", "DELETE"]),
        *metadef_routes(),
    ]
    return Starlette(routes=routes, exception_handlers=handlers(glance_body))


async def no_image_id(request: Request) -> Response:
    """``/v2/images/`` with an empty id: Glance answers 404 (not the list, not a 405)."""
    await authenticate(request)
    raise not_found("")


def metadef_routes() -> list[Route]:
    ns = "/v2/metadefs/namespaces/{ns}"
    all_ = ["GET", "POST", "DELETE"]
    one = ["GET", "PUT", "DELETE"]
    return [
        Route("/v2/metadefs/resource_types", md.resource_types),
        Route("/v2/metadefs/namespaces", md.namespaces, methods=["GET", "POST"]),
        Route(ns, md.namespace, methods=one),
        Route(ns + "/resource_types", md.associations, methods=["GET", "POST"]),
        Route(ns + "/resource_types/{name}", md.association, methods=["DELETE"]),
        Route(ns + "/objects", md.collection("objects"), methods=all_),
        Route(ns + "/objects/{name}", md.member("objects"), methods=one),
        Route(ns + "/properties", md.collection("properties"), methods=all_),
        Route(ns + "/properties/{name}", md.member("properties"), methods=one),
        Route(ns + "/tags", md.collection("tags"), methods=all_),
        Route(ns + "/tags/{name}", md.member("tags"), methods=["GET", "POST", "PUT", "DELETE"]),
    ]


# ---- library use: bootstrap images, agents' fetch -------------------------
async def _admin_project_id(rt: Runtime) -> str:
    found = await rt.objects.list(idm.PROJECT, "", label_selector="name=admin")
    if not found.items:
        raise LookupError("there is no admin project to own the image")
    return found.items[0]["metadata"]["name"]


async def import_image(rt: Runtime, *, name: str, disk_format: str, container_format: str,
                       path: Path, visibility: str = "public", owner: str | None = None,
                       properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """Publish a local file as an active image; idempotent by (name, owner).

    Returns the existing active image when there is one; leftovers of an
    interrupted import (queued, saving, killed) are deleted and redone. The id
    is derived from (owner, name), so concurrent imports meet on one object.
    """
    owner = owner or await _admin_project_id(rt)
    core = {"name": name, "disk_format": disk_format, "container_format": container_format,
            "visibility": visibility}
    for attr, value in core.items():
        check_core(attr, value)
    props = {k: str(v) for k, v in (properties or {}).items()}
    for key, value in props.items():
        check_property(key, value)
    same = [o for o in await all_images(rt.objects)
            if o["spec"].get("name") == name and o["spec"].get("owner") == owner]
    for obj in same:
        if state(obj) == "active":
            return view(obj)
    for obj in same:
        await delete_image(rt, obj["metadata"]["name"], force=True)
    image_id = str(uuid.uuid5(IMPORT_NAMESPACE, f"{owner}/{name}"))
    try:
        await rt.objects.create(new_image(image_id, owner, core, props))
    except store.AlreadyExists:
        existing = await rt.objects.get(IMAGE, "", image_id)
        if state(existing) == "active":
            return view(existing)
        raise
    saved = await image_data.store_stream(rt, image_id, image_data.file_chunks(path),
                                          expected_size=path.stat().st_size)
    return view(saved)
