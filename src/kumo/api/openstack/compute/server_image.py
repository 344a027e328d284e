"""POST /servers/{id}/action createImage, createBackup, suspend and resume.

    createImage  a queued Glance image (kumo.core.snapshots) + spec.snapshot.nonce += 1
                 {imageId}; the agent flattens the VM's disk to qcow2 and uploads it
    createBackup the same with image_type "backup" and {backup{type, rotation}}: after the
                 upload the agent deletes this server's oldest backups of that type
                 beyond ``rotation``, as Nova's compute manager does
    suspend      spec.power = "suspended" (QMP stop)   resume   spec.power = "on"

Nova's answers: createImage is allowed when active, stopped, paused or suspended
with no task; 2.45+ returns {"image_id"}, older versions a Location header.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import snapshots
from kumo.model import compute as cm

from ...auth import AuthContext
from ...runtime import runtime
from .action_base import apply_action, check_lock, check_state
from .common import forbidden, parse_model
from .microversion import at_least
from .quotas import limits_for
from .schemas import Metadata, Name, Strict

Obj = dict[str, Any]
SNAPSHOT_STATES = ("active", "stopped", "paused", "suspended")


class CreateImage(Strict):
    name: Name
    metadata: Metadata | None = None


class CreateBackup(Strict):
    name: Name
    backup_type: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    rotation: Annotated[int, Field(ge=0, strict=True)]
    metadata: Metadata | None = None


def image_url(request: Request, image_id: str) -> str:
    """Where Glance serves the image (kumo's image API beside compute)."""
    cfg = runtime(request).config
    base = cfg.public_url.rstrip("/") if cfg.public_url else (
        f"{request.url.scheme}://{request.headers.get('host') or request.url.netloc}")
    return f"{base}/image/v2/images/{image_id}"


async def create_image(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:
    spec = parse_model(CreateImage, body, "createImage")
    return await _snapshot(request, ctx, server, "createImage", spec.name,
                           dict(spec.metadata or {}), None)


async def create_backup(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:
    spec = parse_model(CreateBackup, body, "createBackup")
    extra = {**(spec.metadata or {}), "backup_type": spec.backup_type}
    return await _snapshot(request, ctx, server, "createBackup", spec.name, extra,
                           {"type": spec.backup_type, "rotation": spec.rotation})


async def _snapshot(request: Request, ctx: AuthContext, server: Obj, action: str, name: str,
                    extra: dict[str, str], backup: Obj | None) -> Response:
    """Create the queued image, then ask the agent (CAS) to fill it."""
    objects = runtime(request).objects
    allowed = (await limits_for(objects, server["metadata"]["namespace"]))["metadata_items"]
    if 0 <= allowed < len(extra):
        raise forbidden("Image metadata limit exceeded")
    check_state(server, action, SNAPSHOT_STATES)
    image_id = str(uuid.uuid4())
    image = snapshots.snapshot_image(image_id, name, server, ctx.user_id, extra)
    if backup is not None:
        image["spec"]["properties"]["image_type"] = "backup"
    await objects.create(image)

    def change(obj: Obj) -> None:
        check_state(obj, action, SNAPSHOT_STATES)
        obj["spec"]["snapshot"] = {"nonce": cm.nonce(obj["spec"], "snapshot") + 1,
                                   "imageId": image_id, "backup": backup}

    try:
        await apply_action(request, ctx, server, action, change,
                           f"snapshot to image {image_id} requested")
    except Exception:
        await objects.delete(snapshots.IMAGE, "", image_id)
        raise
    if at_least(request, "2.45"):
        return JSONResponse({"image_id": image_id}, status_code=202)
    return Response(status_code=202, headers={"Location": image_url(request, image_id)})


def _power(ctx: AuthContext, action: str, allowed: tuple[str, ...], power: str) -> Any:


    def change(obj: Obj) -> None:
        check_lock(ctx, obj)
        check_state(obj, action, allowed)
        obj["spec"]["power"] = power
    return change


async def suspend(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:


    await apply_action(request, ctx, server, "suspend", _power(ctx, "suspend", ("active",),
                                                         "suspended"), "suspend requested")
    return Response(status_code=202)


async def resume(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:


    await apply_action(request, ctx, server, "resume", _power(ctx, "resume", ("suspended",), "on"),
                 "resume requested")
    return Response(status_code=202)
