"""Keystone /v3/auth: issue, validate and revoke tokens; what a token may see."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import identity as m

from ...auth import AuthContext, AuthError, authenticate, verify_secret
from ...common import read_json
from ...errors import ApiError
from ...runtime import Runtime, runtime
from .views import catalog, domain_view, find_by_name, iso, project_view

UNAUTHORIZED = "The request you have made requires authentication."


def _fail() -> ApiError:
    return ApiError(401, UNAUTHORIZED)


async def _domain_ref(rt: Runtime, ref: Any) -> str:
    if not isinstance(ref, dict):
        raise ApiError(400, "Invalid input for field 'domain': an object is required.")
    if ref.get("id"):
        return str(ref["id"])
    if ref.get("name"):
        dom = await find_by_name(rt, m.DOMAIN, str(ref["name"]))
        if dom is None:
            raise _fail()
        return dom["metadata"]["name"]
    raise ApiError(400, "Invalid input for field 'domain': id or name is required.")


async def _password_user(rt: Runtime, pw: Any) -> dict[str, Any]:
    if not isinstance(pw, dict) or not isinstance(pw.get("user"), dict):
        raise ApiError(400, "Invalid input for field 'identity.password.user'.")
    u = pw["user"]
    secret = u.get("password")
    if not isinstance(secret, str):
        raise ApiError(400, "Invalid input for field 'identity.password.user.password'.")
    user = None
    if u.get("id"):
        user = await rt.objects.try_get(m.USER, "", str(u["id"]))
    elif u.get("name"):
        if "domain" not in u:
            raise ApiError(400, "Invalid input for field 'user.domain': required with a name.")
        user = await find_by_name(rt, m.USER, str(u["name"]), await _domain_ref(rt, u["domain"]))
    else:
        raise ApiError(400, "Invalid input for field 'identity.password.user': id or name.")
    ok = user is not None and verify_secret(user["spec"].get("passwordHash", ""), secret)
    if not ok or not user["spec"].get("enabled", True):
        raise _fail()
    return user


async def _app_cred(rt: Runtime, ac: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(ac, dict) or not isinstance(ac.get("secret"), str):
        raise ApiError(400, "Invalid input for field 'application_credential'.")
    cred = None
    if ac.get("id"):
        cred = await rt.objects.try_get(m.APP_CREDENTIAL, "", str(ac["id"]))
    elif ac.get("name") and isinstance(ac.get("user"), dict):
        u = ac["user"]
        user = (await rt.objects.try_get(m.USER, "", str(u["id"])) if u.get("id") else
                await find_by_name(rt, m.USER, str(u.get("name")),
                                   await _domain_ref(rt, u.get("domain") or {})))
        if user is not None:
            for c in (await rt.objects.list(m.APP_CREDENTIAL, "", label_selector=(
                    f"user={user['metadata']['name']}"))).items:
                if c["spec"]["name"] == ac["name"]:
                    cred = c
    if cred is None or not verify_secret(cred["spec"]["secretHash"], ac["secret"]):
        raise _fail()
    exp = cred["spec"].get("expiresAt")
    if exp is not None and exp < time.time():
        raise _fail()
    user = await rt.objects.try_get(m.USER, "", cred["spec"]["userId"])
    if user is None or not user["spec"].get("enabled", True):
        raise _fail()
    return user, cred


async def _scope(rt: Runtime, scope: Any) -> tuple[str | None, str | None]:
    if scope is None or scope == "unscoped":
        return None, None
    if not isinstance(scope, dict):
        raise ApiError(400, "Invalid input for field 'scope'.")
    if "project" in scope:
        p = scope["project"]
        if not isinstance(p, dict):
            raise ApiError(400, "Invalid input for field 'scope.project'.")
        if p.get("id"):
            return str(p["id"]), None
        if p.get("name"):
            proj = await find_by_name(rt, m.PROJECT, str(p["name"]),
                                      await _domain_ref(rt, p.get("domain")))
            if proj is None:
                raise _fail()
            return proj["metadata"]["name"], None
        raise ApiError(400, "Invalid input for field 'scope.project': id or name.")
    if "domain" in scope:
        return None, await _domain_ref(rt, scope["domain"])
    if "system" in scope:
        raise ApiError(401, "System scope is not supported.")
    return None, None


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
    cred = None
    expires = None
    audit = None
    if method == "password":
        user = await _password_user(rt, ident.get("password"))
    elif method == "token":
        tok = (ident.get("token") or {}).get("id")
        if not isinstance(tok, str):
            raise ApiError(400, "Invalid input for field 'identity.token.id'.")
        try:
            old = await rt.tokens.validate(tok)
        except AuthError as exc:
            raise _fail() from exc
        user = await rt.objects.try_get(m.USER, "", old.user_id)
        if user is None:
            raise _fail()
        expires, audit = old.expires_at, None
    elif method == "application_credential":
        user, cred = await _app_cred(rt, ident.get("application_credential"))
    else:
        raise ApiError(401, f"Unsupported authentication method: {method}.")
    uid = user["metadata"]["name"]
    if cred is not None:
        project_id, domain_id = cred["spec"]["projectId"], None
        expires = cred["spec"].get("expiresAt")
    else:
        project_id, domain_id = await _scope(rt, auth.get("scope"))
        if "scope" not in auth and user["spec"].get("defaultProjectId"):
            dp = user["spec"]["defaultProjectId"]
            if await rt.tokens.roles_for(uid, "project", dp):
                project_id = dp
    token = rt.tokens.issue(uid, methods=[method], project_id=project_id, domain_id=domain_id,
                            expires_at=expires, audit_id=audit,
                            app_cred_id=cred["metadata"]["name"] if cred else None)
    try:
        ctx = await rt.tokens.validate(token)
    except AuthError as exc:
        raise ApiError(401, str(exc)) from exc
    nocatalog = "nocatalog" in request.query_params
    return JSONResponse({"token": token_body(rt, ctx, not nocatalog)}, status_code=201,
                        headers={"X-Subject-Token": token})


def token_body(rt: Runtime, ctx: AuthContext, with_catalog: bool = True) -> dict[str, Any]:
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
    if ctx.project_id or ctx.domain_id:
        body["roles"] = [{"id": rid, "name": name} for rid, name in ctx.roles]
        if with_catalog:
            body["catalog"] = catalog(rt)
    if ctx.app_cred_id:
        body["application_credential"] = {"id": ctx.app_cred_id, "restricted": True}
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
    return JSONResponse({"token": token_body(runtime(request), ctx, not nocat)},
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
    sel = f"user={ctx.user_id}"
    pids = {a["spec"]["projectId"] for a in (await rt.objects.list(
        m.ROLE_ASSIGNMENT, "", label_selector=sel)).items if a["spec"].get("projectId")}
    out = []
    for pid in sorted(pids):
        p = await rt.objects.try_get(m.PROJECT, "", pid)
        if p is not None and p["spec"].get("enabled", True):
            out.append(project_view(request, p))
    return JSONResponse({"projects": out, "links": {"self": str(request.url), "next": None,
                                                    "previous": None}})


async def auth_domains(request: Request) -> Response:
    ctx = await authenticate(request)
    rt = runtime(request)
    dids = {a["spec"]["domainId"] for a in (await rt.objects.list(
        m.ROLE_ASSIGNMENT, "", label_selector=f"user={ctx.user_id}")).items
        if a["spec"].get("domainId")}
    out = [domain_view(request, d) for d in [await rt.objects.try_get(m.DOMAIN, "", i)
                                             for i in sorted(dids)] if d is not None]
    return JSONResponse({"domains": out, "links": {"self": str(request.url)}})


async def auth_catalog(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse({"catalog": catalog(runtime(request)), "links": {
        "self": str(request.url)}})


async def auth_system(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse({"system": [], "links": {"self": str(request.url)}})
