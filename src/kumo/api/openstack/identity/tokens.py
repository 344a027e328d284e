"""Keystone /v3/auth: issue, validate and revoke tokens; what a token may see."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import identity
from kumo.model import identity as m

from ...auth import AuthContext, AuthError, authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import Runtime, runtime
from . import login
from .endpoint_groups import token_catalog
from .login import fail as _fail
from .views import collection, domain_view, find_by_name, iso, project_view


async def _domain_ref(rt: Runtime, ref: Any) -> str:
    did = await login.domain_ref(rt, ref)
    if did is None:
        raise _fail()
    return did


Scope = tuple[str | None, str | None, str | None]  # project id, domain id, system


async def _scope(rt: Runtime, scope: Any) -> Scope:
    if scope is None or scope == "unscoped":
        return None, None, None
    if not isinstance(scope, dict):
        raise ApiError(400, "Invalid input for field 'scope'.")
    if "project" in scope:
        p = scope["project"]
        if not isinstance(p, dict):
            raise ApiError(400, "Invalid input for field 'scope.project'.")
        if p.get("id"):
            return str(p["id"]), None, None
        if p.get("name"):
            proj = await find_by_name(rt, m.PROJECT, str(p["name"]),
                                      await _domain_ref(rt, p.get("domain")))
            if proj is None:
                raise _fail()
            return proj["metadata"]["name"], None, None
        raise ApiError(400, "Invalid input for field 'scope.project': id or name.")
    if "domain" in scope:
        return None, await _domain_ref(rt, scope["domain"]), None
    if "OS-TRUST:trust" in scope:
        return None, None, None  # the trust names its project (``_trust_login``)
    if "system" in scope:
        if not isinstance(scope["system"], dict) or scope["system"].get("all") is not True:
            raise ApiError(400, "Invalid input for field 'scope.system': {'all': true}.")
        return None, None, m.SYSTEM_ALL
    return None, None, None


async def _rescoped(rt: Runtime, ident: dict[str, Any]) -> AuthContext:
    ref = ident.get("token")
    tok = ref.get("id") if isinstance(ref, dict) else None
    if not isinstance(tok, str):
        raise ApiError(400, "Invalid input for field 'identity.token.id'.")
    try:
        return await rt.tokens.validate(tok)
    except AuthError as exc:  # Keystone: TokenNotFound, whether revoked, expired or forged
        raise ApiError(404, "Could not find token.") from exc


async def _token_scope(rt: Runtime, auth: dict[str, Any], old: AuthContext) -> Scope:
    """The scope a token login asks for. A token of an application credential keeps the
    credential's project: asking for another scope is refused, never widened."""
    if old.trust_id is not None:
        raise ApiError(403, "A trust-scoped token cannot be re-scoped.")
    scope = await _scope(rt, auth.get("scope"))
    if old.app_cred_id is None:
        return scope
    if scope[1:] != (None, None) or scope[0] not in (None, old.project_id):
        raise ApiError(403, "A token from an application credential cannot be re-scoped.")
    return old.project_id, None, None


async def issue(request: Request) -> Response:
    rt = runtime(request)
    body = await read_json(request)
    auth = body.get("auth")
    if not isinstance(auth, dict) or not isinstance(auth.get("identity"), dict):
        raise ApiError(400, "Invalid input for field 'auth.identity': required.")
    ident = auth["identity"]
    methods = ident.get("methods")
    if not isinstance(methods, list) or not methods:
        raise ApiError(400, "Invalid input for field 'identity.methods': a list is required.")
    method = methods[0]
    cred_id = expires = None
    methods = [method]
    if method == "password":
        user = await login.password_user(request, rt, ident.get("password"))
        project_id, domain_id, system = await _scope(rt, auth.get("scope"))
    elif method == "token":
        old = await _rescoped(rt, ident)
        user = await rt.objects.try_get(m.USER, "", old.user_id)
        if user is None:
            raise _fail()
        expires, cred_id = old.expires_at, old.app_cred_id
        project_id, domain_id, system = await _token_scope(rt, auth, old)
        methods = [*old.methods, *(["token"] if "token" not in old.methods else [])]
    elif method == "application_credential":
        user, cred = await login.app_cred(rt, ident.get("application_credential"))
        cred_id, expires = cred["metadata"]["name"], cred["spec"].get("expiresAt")
        project_id, domain_id, system = cred["spec"]["projectId"], None, None
    else:
        raise ApiError(401, f"Unsupported authentication method: {method}.")
    uid, trust_id = user["metadata"]["name"], None
    if cred_id is None and "scope" not in auth and user["spec"].get("defaultProjectId"):
        dp = user["spec"]["defaultProjectId"]
        if await rt.tokens.roles_for(uid, "project", dp):
            project_id = dp
    scope = auth.get("scope")
    if isinstance(scope, dict) and "OS-TRUST:trust" in scope:
        if cred_id is not None:
            raise ApiError(403, "An application credential cannot use a trust.")
        uid, project_id, trust_id, expires = await _trust_login(
            rt, scope["OS-TRUST:trust"], uid, expires)
    token = rt.tokens.issue(uid, methods=methods, project_id=project_id, domain_id=domain_id,
                            expires_at=expires, app_cred_id=cred_id, system=system,
                            trust_id=trust_id)
    try:
        ctx = await rt.tokens.validate(token)
    except AuthError as exc:
        raise ApiError(401, str(exc)) from exc
    nocatalog = "nocatalog" in request.query_params
    return JSONResponse({"token": await token_body(rt, ctx, not nocatalog)}, status_code=201,
                        headers={"X-Subject-Token": token})


async def _trust_login(rt: Runtime, ref: Any, uid: str, expires: float | None
                       ) -> tuple[str, str | None, str, float | None]:
    """(token user, project, trust id, expiry) of a trust-scoped login by the trustee."""
    tid = ref.get("id") if isinstance(ref, dict) else None
    trust = await rt.objects.try_get(m.TRUST, "", tid) if isinstance(tid, str) else None
    if trust is None or trust["spec"].get("trusteeUserId") != uid:
        raise ApiError(401, "The trust is not valid for this user.")
    s = trust["spec"]
    exp = s.get("expiresAt")
    if exp is not None and time.time() >= float(exp):
        raise ApiError(401, "The trust has expired.")
    if exp is not None:
        expires = float(exp) if expires is None else min(expires, float(exp))
    user = s["trustorUserId"] if s.get("impersonation") else uid
    return user, s.get("projectId"), tid, expires


async def token_body(rt: Runtime, ctx: AuthContext, with_catalog: bool = True
                     ) -> dict[str, Any]:
    body: dict[str, Any] = {
        "methods": list(ctx.methods),
        "user": {"id": ctx.user_id, "name": ctx.user_name, "password_expires_at": None,
                 "domain": {"id": ctx.user_domain_id, "name": ctx.user_domain_name}},
        "audit_ids": [ctx.audit_id], "expires_at": iso(ctx.expires_at),
        "issued_at": iso(ctx.issued_at),
    }
    if ctx.project_id:
        body["project"] = {"id": ctx.project_id, "name": ctx.project_name,
                           "domain": {"id": ctx.project_domain_id,
                                      "name": ctx.project_domain_name}}
        body["is_domain"] = False
    if ctx.domain_id:
        body["domain"] = {"id": ctx.domain_id, "name": ctx.domain_name}
    if ctx.system:
        body["system"] = {ctx.system: True}
    if ctx.project_id or ctx.domain_id or ctx.system:
        body["roles"] = [{"id": rid, "name": name} for rid, name in ctx.roles]
        if with_catalog:
            body["catalog"] = await token_catalog(rt, ctx.project_id)
    if ctx.app_cred_id:
        body["application_credential"] = {"id": ctx.app_cred_id, "restricted": True}
    if ctx.trust_id:
        body["OS-TRUST:trust"] = {"id": ctx.trust_id, "impersonation": ctx.trust_impersonation,
                                  "trustor_user": {"id": ctx.trustor_user_id},
                                  "trustee_user": {"id": ctx.trustee_user_id}}
    return body


async def _subject(request: Request) -> tuple[AuthContext, AuthContext | None]:
    caller = await authenticate(request)
    subject = request.headers.get("x-subject-token")
    if not subject:
        raise ApiError(400, "X-Subject-Token header is required.")
    try:
        ctx = await runtime(request).tokens.validate(subject)
    except AuthError:
        return caller, None
    if not caller.is_admin and ctx.user_id != caller.user_id:
        return caller, None
    return caller, ctx


async def validate(request: Request) -> Response:
    _, ctx = await _subject(request)
    if ctx is None:
        raise ApiError(404, "Could not find token.")
    if request.method == "HEAD":
        return Response(status_code=200, headers={"X-Subject-Token": ctx.token})
    nocat = "nocatalog" in request.query_params
    return JSONResponse({"token": await token_body(runtime(request), ctx, not nocat)},
                        headers={"X-Subject-Token": ctx.token})


async def revoke(request: Request) -> Response:
    _, ctx = await _subject(request)
    if ctx is None:
        raise ApiError(404, "Could not find token.")
    await runtime(request).tokens.revoke(ctx.token)
    return Response(status_code=204)


async def tokens(request: Request) -> Response:
    if request.method == "POST":
        return await issue(request)
    if request.method == "DELETE":
        return await revoke(request)
    return await validate(request)


async def auth_projects(request: Request) -> Response:
    ctx = await authenticate(request)
    rt = runtime(request)
    out = []
    for pid in sorted((await identity.scopes_of(rt.objects, ctx.user_id))["project"]):
        p = await rt.objects.try_get(m.PROJECT, "", pid)
        if p is not None and p["spec"].get("enabled", True):
            out.append(project_view(request, p))
    return collection(request, "projects", out)


async def auth_domains(request: Request) -> Response:
    ctx = await authenticate(request)
    rt = runtime(request)
    dids = (await identity.scopes_of(rt.objects, ctx.user_id))["domain"]
    out = [domain_view(request, d) for d in [await rt.objects.try_get(m.DOMAIN, "", i)
                                             for i in sorted(dids)]
           if d is not None and d["spec"].get("enabled", True)]
    return JSONResponse({"domains": out, "links": {"self": str(request.url)}})


async def auth_catalog(request: Request) -> Response:
    ctx = await authenticate(request)
    return JSONResponse({"catalog": await token_catalog(runtime(request), ctx.project_id),
                         "links": {
        "self": str(request.url)}})


async def auth_system(request: Request) -> Response:
    ctx = await authenticate(request)
    systems = (await identity.scopes_of(runtime(request).objects, ctx.user_id))["system"]
    return JSONResponse({"system": [{s: True} for s in sorted(systems)],
                         "links": {"self": str(request.url)}})
