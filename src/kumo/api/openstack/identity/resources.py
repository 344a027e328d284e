"""Keystone domains, projects, users, groups and roles: CRUD with Keystone's rules."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import identity as m

from ...auth import AuthContext, authenticate, hash_secret, verify_secret
from ...common import read_json
from ...errors import ApiError
from ...runtime import Runtime, runtime
from . import body as b
from .views import (
    domain_view,
    find_by_name,
    get_obj,
    group_view,
    labels_for,
    list_kind,
    project_view,
    role_view,
    save,
    user_view,
)


async def admin(request: Request) -> AuthContext:
    ctx = await authenticate(request)
    if not ctx.is_admin:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    return ctx


def _collection(request: Request, key: str, items: list[dict[str, Any]]) -> Response:
    return JSONResponse({key: items, "links": {"self": str(request.url), "next": None,
                                               "previous": None}})


def _filter(request: Request, items: list[dict[str, Any]], fields: tuple[str, ...]
            ) -> list[dict[str, Any]]:
    q = request.query_params
    for f in fields:
        if f in q:
            want = q[f]
            if f == "enabled":
                items = [i for i in items if str(i.get(f)).lower() == want.lower()]
            else:
                items = [i for i in items if str(i.get(f)) == want]
    return items


async def _domain_id(rt: Runtime, domain_id: str | None) -> str:
    did = domain_id or m.DEFAULT_DOMAIN_ID
    if await rt.objects.try_get(m.DOMAIN, "", did) is None:
        raise ApiError(400, f"Could not find domain: {did}.")
    return did


async def _unique(rt: Runtime, kind: str, name: str, domain_id: str | None, what: str,
                  self_id: str | None = None) -> None:
    found = await find_by_name(rt, kind, name, domain_id)
    if found is not None and found["metadata"]["name"] != self_id:
        raise ApiError(409, f"Conflict occurred attempting to store {what} - Duplicate entry "
                            f"found with name {name}.")


# ---- domains ------------------------------------------------------------------
async def domains(request: Request) -> Response:
    rt = runtime(request)
    if request.method == "POST":
        await admin(request)
        d = b.parse(b.DomainBody, await read_json(request), "domain")
        await _unique(rt, m.DOMAIN, d.name, None, "domain")
        obj = await rt.objects.create(m.obj(m.DOMAIN, m.new_id(), {
            "name": d.name, "description": d.description or "", "enabled": d.enabled},
            labels_for(d.name)))
        return JSONResponse({"domain": domain_view(request, obj)}, status_code=201)
    await admin(request)
    items = [domain_view(request, d) for d in await list_kind(rt, m.DOMAIN)]
    return _collection(request, "domains", _filter(request, items, ("name", "enabled")))


async def domain(request: Request) -> Response:
    rt = runtime(request)
    did = request.path_params["id"]
    ctx = await authenticate(request)
    if not (ctx.is_admin or (request.method == "GET" and did in (ctx.user_domain_id,
                                                                 ctx.project_domain_id))):
        raise ApiError(403, "You are not authorized to perform the requested action.")
    obj = await get_obj(request, m.DOMAIN, did, "domain")
    if request.method == "GET":
        return JSONResponse({"domain": domain_view(request, obj)})
    if request.method == "DELETE":
        if obj["spec"].get("enabled", True):
            raise ApiError(403, "Cannot delete a domain that is enabled, please disable it "
                                "first.")
        await rt.objects.delete(m.DOMAIN, "", did)
        return Response(status_code=204)
    d = b.parse(b.DomainPatch, await read_json(request), "domain")
    if did == m.DEFAULT_DOMAIN_ID and d.enabled is False:
        raise ApiError(403, "The default domain cannot be disabled.")
    if d.name is not None:
        await _unique(rt, m.DOMAIN, d.name, None, "domain", did)
        obj["spec"]["name"] = d.name
        obj["metadata"]["labels"] = labels_for(d.name)
    for k in ("description", "enabled"):
        if getattr(d, k) is not None:
            obj["spec"][k] = getattr(d, k)
    obj = await save(rt, obj)
    rt.tokens.invalidate()
    return JSONResponse({"domain": domain_view(request, obj)})


# ---- projects -----------------------------------------------------------------
async def projects(request: Request) -> Response:
    rt = runtime(request)
    await admin(request)
    if request.method == "POST":
        p = b.parse(b.ProjectBody, await read_json(request), "project")
        if p.is_domain:
            raise ApiError(400, "Projects acting as domains are not supported.")
        did = await _domain_id(rt, p.domain_id or p.parent_id)
        await _unique(rt, m.PROJECT, p.name, did, "project")
        obj = await rt.objects.create(m.obj(m.PROJECT, m.new_id(), {
            "name": p.name, "domainId": did, "description": p.description or "",
            "enabled": p.enabled, "tags": p.tags}, labels_for(p.name, did)))
        return JSONResponse({"project": project_view(request, obj)}, status_code=201)
    items = [project_view(request, p) for p in await list_kind(rt, m.PROJECT)]
    return _collection(request, "projects", _filter(
        request, items, ("name", "domain_id", "enabled", "parent_id")))


async def project(request: Request) -> Response:
    rt = runtime(request)
    pid = request.path_params["id"]
    ctx = await authenticate(request)
    if not ctx.is_admin:
        if request.method == "GET" and pid == ctx.project_id:
            obj = await get_obj(request, m.PROJECT, pid, "project")
            return JSONResponse({"project": project_view(request, obj)})
        raise ApiError(403, "You are not authorized to perform the requested action.")
    obj = await get_obj(request, m.PROJECT, pid, "project")
    if request.method == "GET":
        return JSONResponse({"project": project_view(request, obj)})
    if request.method == "DELETE":
        await rt.objects.delete(m.PROJECT, "", pid)
        for a in (await rt.objects.list(m.ROLE_ASSIGNMENT, "",
                                        label_selector=f"project={pid}")).items:
            await rt.objects.delete(m.ROLE_ASSIGNMENT, "", a["metadata"]["name"])
        rt.tokens.invalidate()
        return Response(status_code=204)
    p = b.parse(b.ProjectPatch, await read_json(request), "project")
    if p.name is not None:
        await _unique(rt, m.PROJECT, p.name, obj["spec"]["domainId"], "project", pid)
        obj["spec"]["name"] = p.name
        obj["metadata"]["labels"] = labels_for(p.name, obj["spec"]["domainId"])
    for k in ("description", "enabled", "tags"):
        if getattr(p, k) is not None:
            obj["spec"][k] = getattr(p, k)
    obj = await save(rt, obj)
    rt.tokens.invalidate()
    return JSONResponse({"project": project_view(request, obj)})


# ---- users --------------------------------------------------------------------
async def users(request: Request) -> Response:
    rt = runtime(request)
    await admin(request)
    if request.method == "POST":
        u = b.parse(b.UserBody, await read_json(request), "user")
        did = await _domain_id(rt, u.domain_id)
        await _unique(rt, m.USER, u.name, did, "user")
        spec = {"name": u.name, "domainId": did, "enabled": u.enabled, "email": u.email,
                "description": u.description, "defaultProjectId": u.default_project_id}
        if u.password is not None:
            spec["passwordHash"] = hash_secret(u.password)
        obj = await rt.objects.create(m.obj(m.USER, m.new_id(), spec, labels_for(u.name, did)))
        return JSONResponse({"user": user_view(request, obj)}, status_code=201)
    items = [user_view(request, u) for u in await list_kind(rt, m.USER)]
    return _collection(request, "users", _filter(request, items,
                                                  ("name", "domain_id", "enabled")))


async def user(request: Request) -> Response:
    rt = runtime(request)
    uid = request.path_params["id"]
    ctx = await authenticate(request)
    if not ctx.is_admin and not (request.method == "GET" and uid == ctx.user_id):
        raise ApiError(403, "You are not authorized to perform the requested action.")
    obj = await get_obj(request, m.USER, uid, "user")
    if request.method == "GET":
        return JSONResponse({"user": user_view(request, obj)})
    if request.method == "DELETE":
        await rt.objects.delete(m.USER, "", uid)
        for a in (await rt.objects.list(m.ROLE_ASSIGNMENT, "",
                                        label_selector=f"user={uid}")).items:
            await rt.objects.delete(m.ROLE_ASSIGNMENT, "", a["metadata"]["name"])
        rt.tokens.invalidate()
        return Response(status_code=204)
    u = b.parse(b.UserPatch, await read_json(request), "user")
    spec = obj["spec"]
    if u.name is not None:
        await _unique(rt, m.USER, u.name, spec["domainId"], "user", uid)
        spec["name"] = u.name
        obj["metadata"]["labels"] = labels_for(u.name, spec["domainId"])
    if u.password is not None:
        spec["passwordHash"] = hash_secret(u.password)
        spec["tokensValidAfter"] = time.time()
    for src, dst in (("enabled", "enabled"), ("email", "email"),
                     ("description", "description"),
                     ("default_project_id", "defaultProjectId")):
        if getattr(u, src) is not None:
            spec[dst] = getattr(u, src)
    obj = await save(rt, obj)
    rt.tokens.invalidate()
    return JSONResponse({"user": user_view(request, obj)})


async def user_password(request: Request) -> Response:
    rt = runtime(request)
    uid = request.path_params["id"]
    ctx = await authenticate(request)
    if uid != ctx.user_id and not ctx.is_admin:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    pc = b.parse(b.PasswordChange, await read_json(request), "user")
    obj = await get_obj(request, m.USER, uid, "user")
    if not verify_secret(obj["spec"].get("passwordHash", ""), pc.original_password):
        raise ApiError(401, "The request you have made requires authentication.")
    obj["spec"]["passwordHash"] = hash_secret(pc.password)
    obj["spec"]["tokensValidAfter"] = time.time()
    await save(rt, obj)
    rt.tokens.invalidate()
    return Response(status_code=204)


async def user_projects(request: Request) -> Response:
    rt = runtime(request)
    uid = request.path_params["id"]
    ctx = await authenticate(request)
    if uid != ctx.user_id and not ctx.is_admin:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    pids = {a["spec"].get("projectId") for a in (await rt.objects.list(
        m.ROLE_ASSIGNMENT, "", label_selector=f"user={uid}")).items}
    out = [project_view(request, p) for p in await list_kind(rt, m.PROJECT)
           if p["metadata"]["name"] in pids]
    return _collection(request, "projects", out)


async def user_groups(request: Request) -> Response:
    ctx = await authenticate(request)
    if request.path_params["id"] != ctx.user_id and not ctx.is_admin:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    return _collection(request, "groups", [])


# ---- groups and roles ------------------------------------------------------------
async def groups(request: Request) -> Response:
    rt = runtime(request)
    await admin(request)
    if request.method == "POST":
        g = b.parse(b.GroupBody, await read_json(request), "group")
        did = await _domain_id(rt, g.domain_id)
        await _unique(rt, m.GROUP, g.name, did, "group")
        obj = await rt.objects.create(m.obj(m.GROUP, m.new_id(), {
            "name": g.name, "domainId": did, "description": g.description or ""},
            labels_for(g.name, did)))
        return JSONResponse({"group": group_view(request, obj)}, status_code=201)
    items = [group_view(request, g) for g in await list_kind(rt, m.GROUP)]
    return _collection(request, "groups", _filter(request, items, ("name", "domain_id")))


async def group(request: Request) -> Response:
    rt = runtime(request)
    await admin(request)
    obj = await get_obj(request, m.GROUP, request.path_params["id"], "group")
    if request.method == "DELETE":
        await rt.objects.delete(m.GROUP, "", obj["metadata"]["name"])
        return Response(status_code=204)
    return JSONResponse({"group": group_view(request, obj)})


async def roles(request: Request) -> Response:
    rt = runtime(request)
    ctx = await authenticate(request)
    if request.method == "POST":
        if not ctx.is_admin:
            raise ApiError(403, "You are not authorized to perform the requested action.")
        r = b.parse(b.RoleBody, await read_json(request), "role")
        await _unique(rt, m.ROLE, r.name, None, "role")
        obj = await rt.objects.create(m.obj(m.ROLE, m.new_id(), {
            "name": r.name, "description": r.description, "domainId": r.domain_id},
            labels_for(r.name)))
        return JSONResponse({"role": role_view(request, obj)}, status_code=201)
    items = [role_view(request, r) for r in await list_kind(rt, m.ROLE)]
    return _collection(request, "roles", _filter(request, items, ("name", "domain_id")))


async def role(request: Request) -> Response:
    rt = runtime(request)
    ctx = await authenticate(request)
    obj = await get_obj(request, m.ROLE, request.path_params["id"], "role")
    if request.method == "GET":
        return JSONResponse({"role": role_view(request, obj)})
    if not ctx.is_admin:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    rid = obj["metadata"]["name"]
    if request.method == "DELETE":
        if obj["spec"]["name"] in ("admin", "member", "reader"):
            raise ApiError(403, "Built-in roles cannot be deleted.")
        await rt.objects.delete(m.ROLE, "", rid)
        for a in (await rt.objects.list(m.ROLE_ASSIGNMENT, "",
                                        label_selector=f"role={rid}")).items:
            await rt.objects.delete(m.ROLE_ASSIGNMENT, "", a["metadata"]["name"])
        rt.tokens.invalidate()
        return Response(status_code=204)
    body = await read_json(request)
    r = b.parse(b.RoleBody, {"role": {"name": obj["spec"]["name"], **(body.get("role") or {})}},
                "role")
    await _unique(rt, m.ROLE, r.name, None, "role", rid)
    obj["spec"].update({"name": r.name, "description": r.description})
    obj["metadata"]["labels"] = labels_for(r.name)
    obj = await save(rt, obj)
    return JSONResponse({"role": role_view(request, obj)})


async def role_inferences(request: Request) -> Response:
    rt = runtime(request)
    await authenticate(request)
    by_name = {r["spec"]["name"]: r for r in await list_kind(rt, m.ROLE)}
    out = []
    for prior, implied in m.IMPLIED_ROLES.items():
        if prior in by_name:
            out.append({"prior_role": role_view(request, by_name[prior]), "implies": [
                role_view(request, by_name[i]) for i in implied if i in by_name]})
    return JSONResponse({"role_inferences": out, "links": {"self": str(request.url)}})


