"""A user's own side of Keystone: changing one's password (with the history rule) and
listing one's projects."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from kumo.core import identity, passwords
from kumo.model import identity as m

from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from . import body as b
from .resources import self_or_admin
from .views import collection, get_obj, list_kind, project_view, save


async def user_password(request: Request) -> Response:
    rt = runtime(request)
    uid = await self_or_admin(request)
    pc = b.parse(b.PasswordChange, await read_json(request), "user")
    obj = await get_obj(request, m.USER, uid, "user")
    if not await passwords.verify_async(obj["spec"].get("passwordHash"), pc.original_password):
        raise ApiError(401, "The request you have made requires authentication.")
    count = rt.config.unique_last_password_count
    if await identity.reused_password(obj["spec"], pc.password, count):
        raise ApiError(400, "Password validation error: The new password cannot be identical "
                            f"to a previous password. The total number which includes the new "
                            f"password that must be unique is {count}.")
    identity.set_password_hash(obj["spec"], await passwords.hash_async(pc.password), count)
    obj["spec"]["tokensValidAfter"] = time.time()
    await save(rt, obj)
    rt.tokens.invalidate()
    return Response(status_code=204)


async def user_projects(request: Request) -> Response:
    rt = runtime(request)
    uid = await self_or_admin(request)
    pids = {a["spec"].get("projectId") for a in (await rt.objects.list(
        m.ROLE_ASSIGNMENT, "", label_selector=f"user={uid}")).items}
    out = [project_view(request, p) for p in await list_kind(rt, m.PROJECT)
           if p["metadata"]["name"] in pids]
    return collection(request, "projects", out)
