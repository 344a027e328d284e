"""Implied roles (``/v3/roles/{prior}/implies/{implied}``, ``/v3/role_inferences``).

The built-in chain admin ⊃ member ⊃ reader is fixed (``kumo.model.identity``); admins add
others as ``ImpliedRole`` objects named ``<prior>.<implied>``. Token validation follows both
transitively (``kumo.core.identity.effective_roles``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import identity as m

from ...auth import authenticate
from ...errors import ApiError
from ...runtime import Runtime, runtime
from .resources import admin
from .views import get_obj, links, list_kind

Obj = dict[str, Any]


def _ref(request: Request, r: Obj) -> Obj:
    rid = r["metadata"]["name"]
    return {"id": rid, "name": r["spec"]["name"], "links": links(request, f"roles/{rid}")}


async def _pairs(rt: Runtime) -> list[tuple[str, str]]:
    """(prior id, implied id) of every inference, built-in and stored."""
    by_name = {r["spec"]["name"]: r["metadata"]["name"] for r in await list_kind(rt, m.ROLE)}
    out = [(by_name[p], by_name[i]) for p, implied in m.IMPLIED_ROLES.items()
           for i in implied if p in by_name and i in by_name]
    out += [(o["spec"].get("priorRoleId", ""), o["spec"].get("impliedRoleId", ""))
            for o in await list_kind(rt, m.IMPLIED_ROLE)]
    return out


async def _inference(request: Request, prior: Obj, implied: list[Obj] | Obj) -> Obj:
    """One rule (``implies`` an object) or a role's rules (``implies`` a list)."""
    return {"prior_role": _ref(request, prior), "implies": (
        [_ref(request, i) for i in implied] if isinstance(implied, list)
        else _ref(request, implied))}


async def implied_role(request: Request) -> Response:
    """PUT creates (201), GET shows, HEAD checks, DELETE removes one inference."""
    rt = runtime(request)
    if request.method in ("GET", "HEAD"):
        await authenticate(request)
    else:
        await admin(request)
    prior = await get_obj(request, m.ROLE, request.path_params["prior"], "role")
    implied = await get_obj(request, m.ROLE, request.path_params["implied"], "role")
    pid, iid = prior["metadata"]["name"], implied["metadata"]["name"]
    name = f"{pid}.{iid}"
    if request.method == "PUT":
        if pid == iid:
            raise ApiError(400, "A role cannot imply itself.")
        if implied["spec"].get("domainId") and not prior["spec"].get("domainId"):
            raise ApiError(403, "A global role cannot imply a domain-specific role.")
        try:
            await rt.objects.create(m.obj(m.IMPLIED_ROLE, name, {
                "priorRoleId": pid, "impliedRoleId": iid}, {"prior": pid, "implied": iid}))
        except store.AlreadyExists:
            pass
        rt.tokens.invalidate()
        body = {"role_inference": await _inference(request, prior, implied)}
        return JSONResponse(body, status_code=201)
    if (pid, iid) not in await _pairs(rt):
        raise ApiError(404, f"{pid} does not imply {iid}.")
    if request.method == "DELETE":
        if await rt.objects.try_get(m.IMPLIED_ROLE, "", name) is None:
            raise ApiError(403, "The built-in role inferences cannot be removed.")
        await rt.objects.delete(m.IMPLIED_ROLE, "", name)
        rt.tokens.invalidate()
        return Response(status_code=204)
    if request.method == "HEAD":
        return Response(status_code=204)
    return JSONResponse({"role_inference": await _inference(request, prior, implied)})


async def implies(request: Request) -> Response:
    """GET /roles/{prior}/implies: the roles one role implies directly."""
    rt = runtime(request)
    await authenticate(request)
    prior = await get_obj(request, m.ROLE, request.path_params["prior"], "role")
    pid = prior["metadata"]["name"]
    implied = [await rt.objects.try_get(m.ROLE, "", i) for p, i in await _pairs(rt) if p == pid]
    body = await _inference(request, prior, [i for i in implied if i is not None])
    return JSONResponse({"role_inference": body, "links": {"self": str(request.url)}})


async def role_inferences(request: Request) -> Response:
    rt = runtime(request)
    await authenticate(request)
    roles = {r["metadata"]["name"]: r for r in await list_kind(rt, m.ROLE)}
    grouped: dict[str, list[Obj]] = {}
    for p, i in await _pairs(rt):
        if p in roles and i in roles:
            grouped.setdefault(p, []).append(roles[i])
    out = [await _inference(request, roles[p], implied) for p, implied in grouped.items()]
    return JSONResponse({"role_inferences": out, "links": {"self": str(request.url)}})
