"""POST /servers/{id}/action: each action is a spec change the agent converges to.

    reboot       spec.reboot.nonce += 1 (and type; HARD also powers on)
    os-stop      spec.power = "off"          os-start   spec.power = "on"
    pause        spec.power = "paused"       unpause    spec.power = "on"
    rebuild      spec.rebuild.nonce += 1, spec.image (+ name, metadata, ...)
    lock/unlock  spec.locked
    os-getConsoleOutput   reads the ConsoleLog the agent uploads

State checks are Nova's (compute/api.py decorators), made on the freshest copy
inside the CAS loop; a locked server refuses non-admins with 409.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import compute as cm

from ...auth import AuthContext
from ...runtime import runtime
from . import lookup, views
from .action_base import apply_action as _apply
from .action_base import check_lock, check_state
from .common import (
    bad,
    body_of_any,
    caller,
    compute_root,
    conflict,
    find_server,
    forbidden,
    not_found,
    parse_model,
    policy_denied,
    require_member,
)
from .microversion import at_least
from .quotas import limits_for
from .schemas import ConsoleOutput, Lock, Reboot, Rebuild, gate
from .secgroups import ACTIONS as SECURITY_GROUP_ACTIONS
from .server_image import create_backup, create_image, resume, suspend

Obj = dict[str, Any]
ALLOW_REBOOT = (None, "rebooting", "reboot_pending", "reboot_started", "resuming",
                "rebooting_hard", "unpausing", "pausing", "suspending")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")


def _power(ctx: AuthContext, action: str, allowed: tuple[str, ...], power: str
           ) -> Callable[[Obj], None]:
    def change(obj: Obj) -> None:
        check_lock(ctx, obj)
        check_state(obj, action, allowed)
        obj["spec"]["power"] = power
    return change


async def _reboot(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:
    kind = parse_model(Reboot, body, "reboot").kind()

    def change(obj: Obj) -> None:
        check_lock(ctx, obj)
        if kind == "SOFT":
            check_state(obj, "reboot", ("active",))
        else:
            check_state(obj, "reboot", ("active", "stopped", "paused", "suspended", "error"),
                        ALLOW_REBOOT)
            obj["spec"]["power"] = "on"
        nonce = int((obj["spec"].get("reboot") or {}).get("nonce", 0)) + 1
        obj["spec"]["reboot"] = {"nonce": nonce, "type": kind}

    await _apply(request, ctx, server, "reboot", change, f"{kind.lower()} reboot requested")
    return Response(status_code=202)


async def _simple(request: Request, ctx: AuthContext, server: Obj, action: str,
                  allowed: tuple[str, ...], power: str) -> Response:
    await _apply(request, ctx, server, action, _power(ctx, action, allowed, power),
                 f"{action} requested")
    return Response(status_code=202)


async def _rebuild(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:
    spec = parse_model(Rebuild, body, "rebuild")
    gate(request, spec, "rebuild", ("description", "key_name", "user_data", "personality",
                                    "trusted_image_certificates", "hostname"))
    if spec.personality:
        raise bad("Personality files are not supported; pass user_data instead.")
    objects = runtime(request).objects
    image = await lookup.bootable_image(objects, ctx, spec.imageRef,
                                        missing="Cannot find image for rebuild")
    flavor = {"spec": server["spec"].get("flavor") or {}, "metadata": {"name": ""}}
    lookup.check_image_fits(ctx, image, flavor)
    fields = spec.model_fields_set
    keypair = None
    if "key_name" in fields and spec.key_name is not None:
        keypair = await lookup.get_keypair(objects, ctx.user_id, spec.key_name)
        if keypair is None:
            raise bad("Invalid key_name provided.")
    if spec.metadata is not None:
        allowed = (await limits_for(objects, server["metadata"]["namespace"]))["metadata_items"]
        if 0 <= allowed < len(spec.metadata):
            raise forbidden(f"Maximum number of metadata items exceeds {allowed}")
    new_image = lookup.image_spec(image)

    def change(obj: Obj) -> None:
        check_lock(ctx, obj)
        check_state(obj, "rebuild", ("active", "stopped", "error"))
        s = obj["spec"]
        nonce = int((s.get("rebuild") or {}).get("nonce", 0)) + 1
        s["rebuild"] = {"nonce": nonce, "image": new_image}
        s["image"] = new_image
        if spec.name is not None:
            s["displayName"] = spec.name
        if spec.metadata is not None:
            s["metadata"] = dict(spec.metadata)
        if "description" in fields:
            s["description"] = spec.description
        if "user_data" in fields:
            s["userData"] = spec.user_data
        if "key_name" in fields:
            s["keyName"] = spec.key_name
            s["publicKey"] = keypair["spec"]["publicKey"] if keypair else None

    updated = await _apply(request, ctx, server, "rebuild", change,
                           f"rebuild with image {new_image['id']} requested")
    vc = await views.view_context(request, ctx, [updated])
    view = views.show(vc, updated, user_data=False)
    if not at_least(request, "2.54"):
        view.pop("key_name", None)
    if at_least(request, "2.57"):
        view["user_data"] = updated["spec"].get("userData")
    sid = updated["metadata"]["name"]
    return JSONResponse({"server": view}, status_code=202,
                        headers={"Location": f"{compute_root(request)}/v2.1/servers/{sid}"})


async def _lock(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:
    reason = None
    if body is not None:
        lock = parse_model(Lock, body, "lock")
        if lock.locked_reason is not None and not at_least(request, "2.73"):
            raise bad("Invalid input for field/attribute lock. Value: {...}. Additional "
                      "properties are not allowed ('locked_reason' was unexpected)")
        reason = lock.locked_reason
    owner = server["metadata"]["namespace"] == ctx.project_id

    def change(obj: Obj) -> None:
        if obj["spec"].get("locked") and owner:
            return
        obj["spec"]["locked"] = {"by": "owner" if owner else "admin", "reason": reason}

    await _apply(request, ctx, server, "lock", change, "server locked")
    return Response(status_code=202)


async def _unlock(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:
    owner = server["metadata"]["namespace"] == ctx.project_id

    def change(obj: Obj) -> None:
        locked = obj["spec"].get("locked") or {}
        if locked and locked.get("by") != ("owner" if owner else "admin") and not ctx.is_admin:
            raise policy_denied("os_compute_api:os-lock-server:unlock:unlock_override")
        obj["spec"]["locked"] = None

    await _apply(request, ctx, server, "unlock", change, "server unlocked")
    return Response(status_code=202)


async def _console(request: Request, ctx: AuthContext, server: Obj, body: Any) -> Response:
    length = parse_model(ConsoleOutput, body or {}, "os-getConsoleOutput").length
    md = server["metadata"]
    if not server["spec"].get("host"):
        raise conflict(f"Instance {md['name']} is not ready")
    log = await runtime(request).objects.try_get(cm.CONSOLE_LOG, md["namespace"], md["name"])
    if log is None:
        raise not_found("Guest does not have a console available.")
    text = str((log.get("spec") or {}).get("text") or "")
    if length is not None and length >= 0:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-length:]) if length else ""
    return JSONResponse({"output": _CONTROL.sub("", text)})


Handler = Callable[[Request, AuthContext, Obj, Any], Any]
ACTIONS: dict[str, Handler] = {
    "reboot": _reboot,
    "os-stop": lambda r, c, s, b: _simple(r, c, s, "stop", ("active", "error"), "off"),
    "os-start": lambda r, c, s, b: _simple(r, c, s, "start", ("stopped",), "on"),
    "pause": lambda r, c, s, b: _simple(r, c, s, "pause", ("active",), "paused"),
    "unpause": lambda r, c, s, b: _simple(r, c, s, "unpause", ("paused",), "on"),
    "rebuild": _rebuild, "lock": _lock, "unlock": _unlock, "os-getConsoleOutput": _console,
    "createImage": create_image, "createBackup": create_backup, "suspend": suspend, "resume": resume,
    **SECURITY_GROUP_ACTIONS,
}


async def action(request: Request) -> Response:
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    data = await body_of_any(request)
    if len(data) != 1:
        raise bad("Malformed request body")
    name, body = next(iter(data.items()))
    handler = ACTIONS.get(name)
    if handler is None:
        raise bad(f"There is no such action: {name}")
    rule = {"os-getConsoleOutput": "os_compute_api:os-console-output",
            "lock": "os_compute_api:os-lock-server:lock",
            "unlock": "os_compute_api:os-lock-server:unlock",
            "addSecurityGroup": "os_compute_api:os-security-groups:add",
            "removeSecurityGroup": "os_compute_api:os-security-groups:remove",
            "createImage": "os_compute_api:servers:create_image",
            "createBackup": "os_compute_api:os-create-backup",
            "suspend": "os_compute_api:os-suspend-server:suspend",
            "resume": "os_compute_api:os-suspend-server:resume"}.get(
        name, f"os_compute_api:servers:{name.removeprefix('os-')}")
    require_member(ctx, rule)
    return await handler(request, ctx, server, body)
