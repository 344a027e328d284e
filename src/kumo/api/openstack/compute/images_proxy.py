"""Nova's ``/images`` proxy to Glance (deprecated in Nova: 404 from microversion 2.36, as
Nova answers): list, detail, show and delete of the images the caller may see, read
from the same Image objects the image face manages. Tempest's compute image tests
read snapshots through it at 2.1–2.35. A deleted image's data file is collected by
the blob store's sweep of unreferenced blobs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model.image import IMAGE

from ...auth import AuthContext
from ...runtime import runtime
from .common import bad, caller, compute_root, forbidden, not_found
from .microversion import at_least

Obj = dict[str, Any]
STATUS = {"active": "ACTIVE", "saving": "SAVING", "queued": "SAVING", "uploading": "SAVING",
          "importing": "SAVING", "killed": "ERROR", "deleted": "DELETED",
          "pending_delete": "DELETED", "deactivated": "ERROR"}
PROGRESS = {"queued": 25, "saving": 50, "active": 100}


def _visible(ctx: AuthContext, obj: Obj) -> bool:
    """Glance's default read policy (the image face's ``access.visible``)."""
    spec = obj["spec"]
    if ctx.is_admin or spec.get("visibility") in ("public", "community"):
        return True
    if ctx.project_id is not None and spec.get("owner") == ctx.project_id:
        return True
    return spec.get("visibility") == "shared" and ctx.project_id in (spec.get("members") or {})


def _links(request: Request, image_id: str) -> list[Obj]:
    root = compute_root(request)
    return [{"rel": "self", "href": f"{root}/v2.1/images/{image_id}"},
            {"rel": "bookmark", "href": f"{root}/images/{image_id}"}]


def _detail(request: Request, obj: Obj) -> Obj:
    spec, st = obj["spec"], obj.get("status") or {}
    image_id, state = obj["metadata"]["name"], st.get("state", "queued")
    props = dict(spec.get("properties") or {})
    view = {"id": image_id, "name": spec.get("name"), "minRam": spec.get("minRam", 0),
            "minDisk": spec.get("minDisk", 0), "metadata": props,
            "created": obj["metadata"].get("creationTimestamp"),
            "updated": st.get("updatedAt") or obj["metadata"].get("creationTimestamp"),
            "status": STATUS.get(state, "UNKNOWN"), "progress": PROGRESS.get(state, 0),
            "links": _links(request, image_id), "OS-EXT-IMG-SIZE:size": st.get("size")}
    if props.get("instance_uuid"):
        sid = props["instance_uuid"]
        root = compute_root(request)
        view["server"] = {"id": sid, "links": [
            {"rel": "self", "href": f"{root}/v2.1/servers/{sid}"},
            {"rel": "bookmark", "href": f"{root}/servers/{sid}"}]}
    return view


def _matches(obj: Obj, params: Any) -> bool:
    """Nova's proxy filters: name, server (id or URL), type (image_type), status."""
    spec, props = obj["spec"], obj["spec"].get("properties") or {}
    if "name" in params and spec.get("name") != params["name"]:
        return False
    if "server" in params and props.get("instance_uuid") != params["server"].rstrip(
            "/").rsplit("/", 1)[-1]:
        return False
    if "type" in params and props.get("image_type") != params["type"]:
        return False
    state = (obj.get("status") or {}).get("state", "queued")
    return "status" not in params or STATUS.get(state) == params["status"].upper()


def _page(images: list[Obj], params: Any) -> list[Obj]:
    marker = params.get("marker")
    if marker:
        ids = [o["metadata"]["name"] for o in images]
        if marker not in ids:
            raise bad(f"marker [{marker}] not found")
        images = images[ids.index(marker) + 1:]
    limit = params.get("limit")
    if limit is not None:
        if not limit.isdigit():
            raise bad("limit param must be an integer")
        images = images[:int(limit)]
    return images


async def _images(request: Request, *, filtered: bool = False
                  ) -> tuple[AuthContext, list[Obj]]:
    ctx = await caller(request)
    if at_least(request, "2.36"):
        raise not_found("The resource could not be found.")
    items = (await runtime(request).objects.list(IMAGE, "")).items
    params = request.query_params if filtered else {}
    seen = [o for o in items if _visible(ctx, o)
            and (o.get("status") or {}).get("state") != "deleted" and _matches(o, params)]
    seen.sort(key=lambda o: o["metadata"].get("creationTimestamp", ""), reverse=True)
    return ctx, _page(seen, params) if filtered else seen


async def _one(request: Request) -> tuple[AuthContext, Obj]:
    image_id = request.path_params["image_id"]
    ctx, images = await _images(request)
    for obj in images:
        if obj["metadata"]["name"] == image_id:
            return ctx, obj
    raise not_found("Image not found.")


async def index(request: Request) -> Response:
    _, images = await _images(request, filtered=True)
    return JSONResponse({"images": [
        {"id": o["metadata"]["name"], "name": o["spec"].get("name"),
         "links": _links(request, o["metadata"]["name"])} for o in images]})


async def detail(request: Request) -> Response:
    _, images = await _images(request, filtered=True)
    return JSONResponse({"images": [_detail(request, o) for o in images]})


async def show(request: Request) -> Response:
    _, obj = await _one(request)
    return JSONResponse({"image": _detail(request, obj)})


async def delete(request: Request) -> Response:
    ctx, obj = await _one(request)
    spec = obj["spec"]
    owner = ctx.project_id is not None and spec.get("owner") == ctx.project_id
    if not (ctx.is_admin or (owner and ctx.can_write)) or spec.get("protected"):
        raise forbidden("You are not allowed to delete the image.")
    await runtime(request).objects.delete(IMAGE, "", obj["metadata"]["name"])
    return Response(status_code=204)
