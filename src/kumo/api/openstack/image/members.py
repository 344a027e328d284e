"""Image members (sharing with other projects) and tags.

The owner adds and removes members of a ``shared`` image; each member
project accepts or rejects the share itself. A member sees only its own
membership; a project that is not a member gets 404 for someone else's.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.store import now_iso

from ...auth import AuthContext
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from .access import is_owner, load, mutate, require_write
from .model import (
    MAX_MEMBERS,
    MAX_TAGS,
    MEMBER_STATUSES,
    bad,
    check_tag,
    forbidden,
    member_view,
    touch,
)

Obj = dict[str, Any]


def _require_shared(obj: Obj) -> None:
    if obj["spec"]["visibility"] != "shared":
        raise forbidden("Only shared images have members.")


def _member_missing(obj: Obj, member: str) -> ApiError:
    return ApiError(404, f"{member} not found in the member list of the image "
                         f"{obj['metadata']['name']}.", reason="NotFound")


def _may_see_member(ctx: AuthContext, obj: Obj, member: str) -> bool:
    return is_owner(ctx, obj) or ctx.project_id == member


def _require_member(ctx: AuthContext, obj: Obj, member: str) -> None:
    """The image is shared and ``member`` is one the caller may see, else 403/404."""
    _require_shared(obj)
    if member not in (obj["spec"].get("members") or {}) or not _may_see_member(ctx, obj, member):
        raise _member_missing(obj, member)


def _member_write(member: str, edit: Any) -> Any:
    """A CAS change of one existing membership (404 if it went away meanwhile)."""
    def change(o: Obj) -> None:
        members = o["spec"].get("members") or {}
        if member not in members:
            raise _member_missing(o, member)
        edit(o, members)
        touch(o)

    return change


async def list_members(request: Request) -> Response:
    ctx, obj = await load(request, request.path_params["image_id"])
    _require_shared(obj)
    members = obj["spec"].get("members") or {}
    shown = [m for m in sorted(members) if _may_see_member(ctx, obj, m)]
    return JSONResponse({"members": [member_view(obj, m) for m in shown],
                         "schema": "/v2/schemas/members"})


async def show_member(request: Request) -> Response:
    ctx, obj = await load(request, request.path_params["image_id"])
    member = request.path_params["member_id"]
    _require_member(ctx, obj, member)
    return JSONResponse(member_view(obj, member))


async def add_member(request: Request) -> Response:
    image_id = request.path_params["image_id"]
    ctx, obj = await load(request, image_id)
    require_write(ctx, obj, "add members to")
    body = await read_json(request)
    member = body.get("member")
    if not isinstance(member, str) or not member.strip() or len(member) > 255:
        raise bad("Expected a member in the form: {\"member\": \"image_id\"}")

    def add(o: Obj) -> None:
        _require_shared(o)
        members = o["spec"].setdefault("members", {})
        if member in members:
            raise ApiError(409, f"Member {member} is duplicated for image {image_id}",
                           reason="Conflict")
        if len(members) >= MAX_MEMBERS:
            raise ApiError(413, f"Image member limit exceeded for image {image_id}",
                           reason="RequestEntityTooLarge")
        members[member] = "pending"
        now = now_iso()
        o["spec"].setdefault("memberTimes", {})[member] = {"createdAt": now, "updatedAt": now}
        touch(o)

    saved = await mutate(runtime(request).objects, image_id, add)
    return JSONResponse(member_view(saved, member))


async def update_member(request: Request) -> Response:
    image_id = request.path_params["image_id"]
    member = request.path_params["member_id"]
    ctx, obj = await load(request, image_id)
    body = await read_json(request)
    status = body.get("status")
    if "status" not in body:
        raise bad("Status not specified")
    if status not in MEMBER_STATUSES:
        raise bad('Status must be "pending", "accepted" or "rejected".')
    _require_member(ctx, obj, member)
    if not ctx.can_write or (not ctx.is_admin and ctx.project_id != member):
        raise forbidden("You are not permitted to modify 'status' on this image member.")

    def set_status(o: Obj, members: dict[str, str]) -> None:
        members[member] = status
        times = o["spec"].setdefault("memberTimes", {}).setdefault(member, {})
        times["updatedAt"] = now_iso()

    saved = await mutate(runtime(request).objects, image_id,
                         _member_write(member, set_status))
    return JSONResponse(member_view(saved, member))


async def delete_member(request: Request) -> Response:
    image_id = request.path_params["image_id"]
    member = request.path_params["member_id"]
    ctx, obj = await load(request, image_id)
    _require_member(ctx, obj, member)
    if not ctx.can_write or not is_owner(ctx, obj):
        raise forbidden(f"You cannot delete image member {member}.")

    def remove(o: Obj, members: dict[str, str]) -> None:
        del members[member]
        (o["spec"].get("memberTimes") or {}).pop(member, None)

    await mutate(runtime(request).objects, image_id, _member_write(member, remove))
    return Response(status_code=204)


async def add_tag(request: Request) -> Response:
    image_id, tag = request.path_params["image_id"], request.path_params["tag"]
    ctx, obj = await load(request, image_id)
    require_write(ctx, obj, "tag")
    check_tag(tag)

    def add(o: Obj) -> None:
        tags = o["spec"].setdefault("tags", [])
        if tag in tags:
            return
        if len(tags) >= MAX_TAGS:
            raise ApiError(413, f"Maximum number of tags ({MAX_TAGS}) exceeded.",
                           reason="RequestEntityTooLarge")
        tags.append(tag)
        touch(o)

    await mutate(runtime(request).objects, image_id, add)
    return Response(status_code=204)


async def delete_tag(request: Request) -> Response:
    image_id, tag = request.path_params["image_id"], request.path_params["tag"]
    ctx, obj = await load(request, image_id)
    require_write(ctx, obj, "untag")

    def remove(o: Obj) -> None:
        tags = o["spec"].get("tags") or []
        if tag not in tags:
            raise ApiError(404, f"Tag {tag} not found.", reason="NotFound")
        tags.remove(tag)
        touch(o)

    await mutate(runtime(request).objects, image_id, remove)
    return Response(status_code=204)
