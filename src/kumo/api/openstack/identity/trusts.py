"""Trusts (``/v3/OS-TRUST/trusts``): a trustor delegates some of its roles on a project
to a trustee, who gets trust-scoped tokens carrying only those roles (as the trustor with
``impersonation``, else as itself). A trust cannot be changed, only deleted; it dies with
its expiry, and a role the trustor loses leaves the trust's tokens too
(``auth.TokenManager`` re-checks at every validation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, StrictBool, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import identity as m

from ...auth import AuthContext, authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from . import body as b
from .views import collection, get_obj, iso, links, role_view

Obj = dict[str, Any]


class TrustBody(b.Loose):
    trustor_user_id: StrictStr
    trustee_user_id: StrictStr
    project_id: StrictStr | None = None
    impersonation: StrictBool
    roles: list[dict[str, Any]] = Field(default_factory=list)
    expires_at: StrictStr | None = None
    remaining_uses: StrictInt | None = Field(default=None, ge=1)
    allow_redelegation: StrictBool = False


def _expiry(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, f"Invalid input for field 'expires_at': {raw}.") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _view(request: Request, t: Obj, summary: bool = False) -> Obj:
    s, tid = t["spec"], t["metadata"]["name"]
    out = {"id": tid, "trustor_user_id": s["trustorUserId"],
           "trustee_user_id": s["trusteeUserId"], "project_id": s.get("projectId"),
           "impersonation": s.get("impersonation", False),
           "expires_at": iso(s.get("expiresAt")),
           "remaining_uses": s.get("remainingUses"),
           "allow_redelegation": s.get("allowRedelegation", False),
           "links": links(request, f"OS-TRUST/trusts/{tid}")}
    if not summary:
        out["roles"] = [{**r, "links": links(request, f"roles/{r['id']}")}
                        for r in s.get("roles", [])]
        out["roles_links"] = {"self": str(request.url), "next": None, "previous": None}
    return out


async def _roles(request: Request, ctx: AuthContext, wanted: list[dict[str, Any]]
                 ) -> list[dict[str, str]]:
    """The delegated roles, each one the trustor holds on the token's project."""
    have = dict(ctx.roles)
    by_name = {n: i for i, n in ctx.roles}
    out = []
    for r in wanted:
        rid = r.get("id") or by_name.get(r.get("name", ""))
        if rid not in have:
            raise ApiError(403, "A trust may only delegate roles its trustor holds on the "
                                "project.")
        out.append({"id": rid, "name": have[rid]})
    if not out:
        raise ApiError(400, "Invalid input for field 'roles': at least one role.")
    return out


async def trusts(request: Request) -> Response:
    ctx = await authenticate(request)
    rt = runtime(request)
    if request.method == "GET":
        q = request.query_params
        mine = {q.get("trustor_user_id"), q.get("trustee_user_id")} - {None}
        if not ctx.is_admin and mine != {ctx.user_id}:
            raise ApiError(403, "You may list only the trusts you give or receive.")
        items = (await rt.objects.list(m.TRUST, "")).items
        for field, spec in (("trustor_user_id", "trustorUserId"),
                            ("trustee_user_id", "trusteeUserId")):
            if q.get(field):
                items = [t for t in items if t["spec"].get(spec) == q[field]]
        return collection(request, "trusts", [_view(request, t, summary=True) for t in items])
    t = b.parse(TrustBody, await read_json(request), "trust")
    if t.trustor_user_id != ctx.user_id or ctx.app_cred_id or ctx.trust_id:
        raise ApiError(403, "A trust is created by its trustor, with its own token.")
    if t.project_id is not None and t.project_id != ctx.project_id:
        raise ApiError(403, "A trust delegates roles on the token's project.")
    await get_obj(request, m.USER, t.trustee_user_id, "user")
    expires = _expiry(t.expires_at)
    roles = await _roles(request, ctx, t.roles) if t.project_id else []
    obj = await rt.objects.create(m.obj(m.TRUST, m.new_id(), {
        "trustorUserId": ctx.user_id, "trusteeUserId": t.trustee_user_id,
        "projectId": t.project_id, "impersonation": t.impersonation, "roles": roles,
        "expiresAt": expires, "remainingUses": t.remaining_uses,
        "allowRedelegation": t.allow_redelegation},
        {"trustor": ctx.user_id, "trustee": t.trustee_user_id}))
    return JSONResponse({"trust": _view(request, obj)}, status_code=201)


async def _trust(request: Request) -> tuple[AuthContext, Obj]:
    """The path's trust, for its trustor, its trustee or an admin (else 404)."""
    ctx = await authenticate(request)
    tid = request.path_params["id"]
    t = await runtime(request).objects.try_get(m.TRUST, "", tid)
    if t is None or not (ctx.is_admin or ctx.user_id in (t["spec"].get("trustorUserId"),
                                                         t["spec"].get("trusteeUserId"))):
        raise ApiError(404, f"Could not find trust: {tid}.")
    return ctx, t


async def trust(request: Request) -> Response:
    ctx, t = await _trust(request)
    if request.method == "GET":
        return JSONResponse({"trust": _view(request, t)})
    if ctx.user_id != t["spec"]["trustorUserId"] and not ctx.is_admin:
        raise ApiError(403, "Only the trustor deletes a trust.")
    rt = runtime(request)
    await rt.objects.delete(m.TRUST, "", t["metadata"]["name"])
    rt.tokens.invalidate()
    return Response(status_code=204)


async def trust_roles(request: Request) -> Response:
    _, t = await _trust(request)
    rt = runtime(request)
    roles = [await rt.objects.try_get(m.ROLE, "", r["id"]) for r in t["spec"].get("roles", [])]
    out = [role_view(request, r) for r in roles if r is not None]
    rid = request.path_params.get("role")
    if rid is None:
        return JSONResponse({"roles": out, "links": {"self": str(request.url)}})
    found = [r for r in out if r["id"] == rid]
    if not found:
        raise ApiError(404, f"Could not find role: {rid}.")
    if request.method == "HEAD":
        return Response(status_code=200)
    return JSONResponse({"role": found[0]})
