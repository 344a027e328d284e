"""Who may see and change an image (Glance's default policy), and CAS writes.

Reads: admin sees every image; others see their project's images, public and
community ones, and shared ones where their project is a member. An image one
may not see is 404, never 403. Writes need the member (or admin) role and
ownership of the image; only admin may publicize an image or give it away.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from kumo import store
from kumo.model.image import IMAGE

from ...auth import AuthContext, authenticate
from ...errors import ApiError
from ...runtime import runtime
from .model import forbidden, not_found

Obj = dict[str, Any]
CAS_ATTEMPTS = 20


def visible(ctx: AuthContext, obj: Obj) -> bool:
    spec = obj["spec"]
    if ctx.is_admin or spec["visibility"] in ("public", "community"):
        return True
    if ctx.project_id is None:
        return False
    if spec.get("owner") == ctx.project_id:
        return True
    return spec["visibility"] == "shared" and ctx.project_id in (spec.get("members") or {})


def is_owner(ctx: AuthContext, obj: Obj) -> bool:
    return ctx.is_admin or (ctx.project_id is not None
                            and obj["spec"].get("owner") == ctx.project_id)


def require_write(ctx: AuthContext, obj: Obj, action: str = "modify") -> None:
    """403 unless the caller may change this (visible) image."""
    if not ctx.can_write or not is_owner(ctx, obj):
        raise forbidden(f"You are not authorized to {action} image "
                        f"{obj['metadata']['name']}.")


def require_role_write(ctx: AuthContext) -> None:
    if not ctx.can_write:
        raise forbidden("You are not authorized to complete this action: "
                        "the member or admin role is required.")


def check_visibility_change(ctx: AuthContext, visibility: str | None) -> None:
    if visibility == "public" and not ctx.is_admin:
        raise forbidden("You are not authorized to complete publicize_image action.")


def check_owner_change(ctx: AuthContext, owner: str | None) -> None:
    if not ctx.is_admin and owner != ctx.project_id:
        raise forbidden(f"You are not permitted to create images owned by '{owner}'.")


async def load(request: Request, image_id: str) -> tuple[AuthContext, Obj]:
    """The caller and an image it may see, or 404."""
    ctx = await authenticate(request)
    obj = await runtime(request).objects.try_get(IMAGE, "", image_id)
    if obj is None or not visible(ctx, obj):
        raise not_found(image_id)
    return ctx, obj


async def mutate(objects: store.ObjectStore, image_id: str, change: Callable[[Obj], None]) -> Obj:
    """Apply ``change`` to the current object and write it with CAS (``ObjectStore.mutate``).

    ``change`` must be a pure function of the object (it may run more than once)
    and may raise ApiError to refuse. Nothing is written when it changes nothing.
    """
    def apply(obj: Obj) -> object:
        before = copy.deepcopy(obj)
        change(obj)
        return store.UNCHANGED if obj == before else None

    try:
        return await objects.mutate(IMAGE, "", image_id, apply, attempts=CAS_ATTEMPTS)
    except store.NotFound as exc:
        raise not_found(image_id) from exc
    except store.Conflict as exc:
        raise ApiError(409, f"Image {image_id} is being changed concurrently; retry.",
                       reason="Conflict") from exc


async def all_images(objects: store.ObjectStore) -> list[Obj]:
    return (await objects.list(IMAGE)).items
