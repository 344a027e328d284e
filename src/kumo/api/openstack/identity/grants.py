"""Role grants, role assignment listing, application credentials, catalog listings."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import passwords
from kumo.model import identity as m

from ...auth import authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from . import body as b
from .resources import admin
from .unique import create_named, delete_named
from .views import catalog, get_obj, iso, labels_for, role_view

SCOPES = {"projects": ("project", m.PROJECT), "domains": ("domain", m.DOMAIN)}
ACTORS = {"users": ("user", m.USER), "groups": ("group", m.GROUP)}


async def _grant_parts(request: Request) -> tuple[str, str, str, str, str]:
    p = request.path_params
    if p["scopes"] not in SCOPES or p["actors"] not in ACTORS:
        raise ApiError(404, "The resource could not be found.")
    scope_type, scope_kind = SCOPES[p["scopes"]]
    actor_type, actor_kind = ACTORS[p["actors"]]
    await get_obj(request, scope_kind, p["scope"], scope_type)
    await get_obj(request, actor_kind, p["actor"], actor_type)
    return scope_type, p["scope"], actor_type, p["actor"], p.get("role", "")


async def grant(request: Request) -> Response:
    rt = runtime(request)
    await admin(request)
    scope_type, scope_id, actor_type, actor_id, role_id = await _grant_parts(request)
    await get_obj(request, m.ROLE, role_id, "role")
    name = m.assignment_name(scope_type, scope_id, actor_type, actor_id, role_id)
    if request.method == "PUT":
        try:
            await rt.objects.create(m.obj(m.ROLE_ASSIGNMENT, name, {
                f"{actor_type}Id": actor_id, f"{scope_type}Id": scope_id, "roleId": role_id},
                {actor_type: actor_id, scope_type: scope_id, "role": role_id}))
        except store.AlreadyExists:
            pass
        rt.tokens.invalidate()
        return Response(status_code=204)
    exists = await rt.objects.try_get(m.ROLE_ASSIGNMENT, "", name) is not None
    if request.method == "DELETE":
        if not exists:
            raise ApiError(404, f"Could not find role assignment of role {role_id}.")
        await rt.objects.delete(m.ROLE_ASSIGNMENT, "", name)
        rt.tokens.invalidate()
        return Response(status_code=204)
    if not exists:
        raise ApiError(404, f"Could not find role assignment of role {role_id}.")
    return Response(status_code=204)


async def grants_list(request: Request) -> Response:
    rt = runtime(request)
    await admin(request)
    scope_type, scope_id, actor_type, actor_id, _ = await _grant_parts(request)
    sel = f"{actor_type}={actor_id},{scope_type}={scope_id}"
    out = []
    for a in (await rt.objects.list(m.ROLE_ASSIGNMENT, "", label_selector=sel)).items:
        r = await rt.objects.try_get(m.ROLE, "", a["spec"]["roleId"])
        if r is not None:
            out.append(role_view(request, r))
    return JSONResponse({"roles": out, "links": {"self": str(request.url)}})


async def role_assignments(request: Request) -> Response:
    rt = runtime(request)
    ctx = await authenticate(request)
    q = request.query_params
    user_filter = q.get("user.id")
    if not ctx.is_admin and user_filter != ctx.user_id:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    parts = []
    for param, label in (("user.id", "user"), ("group.id", "group"), ("role.id", "role"),
                         ("scope.project.id", "project"), ("scope.domain.id", "domain")):
        if q.get(param):
            parts.append(f"{label}={q[param]}")
    items = (await rt.objects.list(m.ROLE_ASSIGNMENT, "",
                                   label_selector=",".join(parts) or None)).items
    names = "include_names" in q and q.get("include_names") not in ("0", "false")
    cache: dict[tuple[str, str], Any] = {}

    async def named(kind: str, oid: str) -> dict[str, Any]:
        if (kind, oid) not in cache:
            cache[(kind, oid)] = await rt.objects.try_get(kind, "", oid)
        obj = cache[(kind, oid)]
        ref: dict[str, Any] = {"id": oid}
        if names and obj is not None:
            ref["name"] = obj["spec"]["name"]
            if kind != m.ROLE and kind != m.DOMAIN:
                dom = await named(m.DOMAIN, obj["spec"]["domainId"])
                ref["domain"] = dom
        return ref

    out = []
    for a in items:
        s = a["spec"]
        entry: dict[str, Any] = {"role": await named(m.ROLE, s["roleId"]), "links": {
            "assignment": str(request.url)}}
        if s.get("userId"):
            entry["user"] = await named(m.USER, s["userId"])
        if s.get("groupId"):
            entry["group"] = await named(m.GROUP, s["groupId"])
        if s.get("projectId"):
            entry["scope"] = {"project": await named(m.PROJECT, s["projectId"])}
        elif s.get("domainId"):
            entry["scope"] = {"domain": await named(m.DOMAIN, s["domainId"])}
        out.append(entry)
    return JSONResponse({"role_assignments": out, "links": {"self": str(request.url)}})


# ---- application credentials -----------------------------------------------------
def _cred_view(request: Request, c: dict[str, Any], secret: str | None = None
               ) -> dict[str, Any]:
    s = c["spec"]
    out = {"id": c["metadata"]["name"], "name": s["name"], "description": s.get("description"),
           "user_id": s["userId"], "project_id": s["projectId"], "roles": s["roles"],
           "expires_at": iso(s.get("expiresAt")), "unrestricted": s.get("unrestricted", False),
           "access_rules": [], "links": {"self": f"{runtime(request).config.base_url}/v3/users/"
                                                 f"{s['userId']}/application_credentials/"
                                                 f"{c['metadata']['name']}"}}
    if secret is not None:
        out["secret"] = secret
    return out


async def _cred_owner(request: Request) -> str:
    ctx = await authenticate(request)
    uid = request.path_params["id"]
    if uid != ctx.user_id and not ctx.is_admin:
        raise ApiError(404, f"Could not find user: {uid}.")
    return uid


async def app_creds(request: Request) -> Response:
    rt = runtime(request)
    uid = await _cred_owner(request)
    ctx = await authenticate(request)
    if request.method == "POST":
        if ctx.app_cred_id:
            raise ApiError(403, "An application credential cannot create another one.")
        if uid != ctx.user_id or not ctx.project_id:
            raise ApiError(403, "Application credentials are created with a project-scoped "
                                "token of their owner.")
        c = b.parse(b.AppCredBody, await read_json(request), "application_credential")
        have = {rid: name for rid, name in ctx.roles}
        if c.roles:
            wanted = []
            for r in c.roles:
                rid = r.get("id") or next((i for i, n in have.items() if n == r.get("name")),
                                          None)
                if rid not in have:
                    raise ApiError(403, "You may only delegate roles you hold on the project.")
                wanted.append({"id": rid, "name": have[rid], "domain_id": None})
        else:
            wanted = [{"id": i, "name": n, "domain_id": None} for i, n in have.items()]
        exp = None
        if c.expires_at:
            try:
                exp = datetime.fromisoformat(c.expires_at.replace("Z", "+00:00")).timestamp()
            except ValueError as exc:
                raise ApiError(400, "Invalid input for field 'expires_at'.") from exc
        secret = c.secret or secrets.token_urlsafe(48)
        obj = await create_named(rt, m.obj(m.APP_CREDENTIAL, m.new_id(), {
            "name": c.name, "userId": uid, "projectId": ctx.project_id,
            "secretHash": await passwords.hash_async(secret), "roles": wanted, "expiresAt": exp,
            "unrestricted": c.unrestricted, "description": c.description},
            {**labels_for(c.name), "user": uid}), "application credential")
        return JSONResponse({"application_credential": _cred_view(request, obj, secret)},
                            status_code=201)
    items = (await rt.objects.list(m.APP_CREDENTIAL, "", label_selector=f"user={uid}")).items
    if request.query_params.get("name"):
        items = [i for i in items if i["spec"]["name"] == request.query_params["name"]]
    return JSONResponse({"application_credentials": [_cred_view(request, i) for i in items],
                         "links": {"self": str(request.url)}})


async def app_cred(request: Request) -> Response:
    rt = runtime(request)
    uid = await _cred_owner(request)
    cid = request.path_params["cred"]
    obj = await rt.objects.try_get(m.APP_CREDENTIAL, "", cid)
    if obj is None or obj["spec"]["userId"] != uid:
        raise ApiError(404, f"Could not find application credential: {cid}.")
    if request.method == "DELETE":
        await delete_named(rt, obj)
        rt.tokens.invalidate()
        return Response(status_code=204)
    return JSONResponse({"application_credential": _cred_view(request, obj)})


# ---- catalog listings ------------------------------------------------------------
def _one_or_all(request: Request, key: str, out: list[dict[str, Any]]) -> Response:
    """The entry named by the path's id (404 if none), else the whole listing."""
    if "id" in request.path_params:
        found = [e for e in out if e["id"] == request.path_params["id"]]
        if not found:
            raise ApiError(404, f"Could not find {key}: {request.path_params['id']}.")
        return JSONResponse({key: found[0]})
    return JSONResponse({key + "s": out, "links": {"self": str(request.url)}})


async def services(request: Request) -> Response:
    await authenticate(request)
    if request.method == "POST":
        raise ApiError(403, "kumo's services are built in; the catalog is not editable.")
    base = runtime(request).config.base_url + "/v3/services/"
    out = [{"id": s["id"], "type": s["type"], "name": s["name"], "enabled": True,
            "description": "", "links": {"self": base + s["id"]}}
           for s in catalog(runtime(request))]
    if "type" in request.query_params:
        out = [s for s in out if s["type"] == request.query_params["type"]]
    return _one_or_all(request, "service", out)


async def endpoints(request: Request) -> Response:
    await authenticate(request)
    if request.method == "POST":
        raise ApiError(403, "kumo's endpoints are built in; the catalog is not editable.")
    base = runtime(request).config.base_url + "/v3/endpoints/"
    out = [{**e, "service_id": s["id"], "enabled": True, "links": {"self": base + e["id"]}}
           for s in catalog(runtime(request)) for e in s["endpoints"]]
    q = request.query_params
    for f in ("interface", "service_id", "region_id"):
        if f in q:
            out = [e for e in out if e[f] == q[f]]
    return _one_or_all(request, "endpoint", out)


async def regions(request: Request) -> Response:
    await authenticate(request)
    region = runtime(request).config.region
    view = {"id": region, "description": "", "parent_region_id": None,
            "links": {"self": f"{runtime(request).config.base_url}/v3/regions/{region}"}}
    if "id" in request.path_params:
        if request.path_params["id"] != region:
            raise ApiError(404, f"Could not find region: {request.path_params['id']}.")
        return JSONResponse({"region": view})
    return JSONResponse({"regions": [view], "links": {"self": str(request.url)}})


