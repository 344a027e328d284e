"""Keystone domains, projects, users, groups and roles: CRUD with Keystone's rules."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import identity, lockout, passwords
from kumo.model import identity as m

from ...auth import AuthContext, authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import Runtime, runtime
from . import body as b
from .unique import create_named, delete_named, save_named
from .views import (
    collection,
    domain_project_view,
    domain_view,
    get_obj,
    group_view,
    labels_for,
    list_kind,
    project_view,
    role_view,
    user_view,
)

Obj = dict[str, Any]
View = Callable[[Request, Obj], Obj]


def _forbidden() -> ApiError:
    return ApiError(403, "You are not authorized to perform the requested action.")


async def admin(request: Request) -> AuthContext:
    ctx = await authenticate(request)
    if not ctx.is_admin:
        raise _forbidden()
    return ctx


async def self_or_admin(request: Request) -> str:
    """The path's user id, if the caller is that user or an admin (else 403)."""
    ctx = await authenticate(request)
    uid = request.path_params["id"]
    if uid != ctx.user_id and not ctx.is_admin:
        raise _forbidden()
    return uid


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


async def _domain_id(rt: Runtime, domain_id: str | None, status: int = 400) -> str:
    did = domain_id or m.DEFAULT_DOMAIN_ID
    if await rt.objects.try_get(m.DOMAIN, "", did) is None:
        raise ApiError(status, f"Could not find domain: {did}.")
    return did


def _created(key: str, view: View, request: Request, obj: Obj) -> Response:
    return JSONResponse({key: view(request, obj)}, status_code=201)


async def _listing(request: Request, kind: str, key: str, view: View,
                   fields: tuple[str, ...]) -> Response:
    items = [view(request, o) for o in await list_kind(runtime(request), kind)]
    return collection(request, key, _filter(request, items, fields))


def _apply(spec: Obj, patch: Any, fields: dict[str, str]) -> None:
    """Copy the patch's set attributes (body name → spec field) into the spec."""
    for src, dst in fields.items():
        if getattr(patch, src) is not None:
            spec[dst] = getattr(patch, src)


def _rename(obj: Obj, name: str | None) -> str:
    """Set a new name (labels follow); returns the old one for ``save_named``."""
    old = obj["spec"]["name"]
    if name is not None:
        obj["spec"]["name"] = name
        obj["metadata"]["labels"] = labels_for(name, obj["spec"].get("domainId")
                                               if obj["kind"] != m.ROLE else None)
    return old


async def _delete(rt: Runtime, obj: Obj, assignments: str | None = None) -> Response:
    """Delete (freeing the name); with ``assignments``, also the role assignments of it."""
    oid = obj["metadata"]["name"]
    if obj["kind"] == m.DOMAIN:  # Keystone deletes a domain with everything in it
        for kind in (m.PROJECT, m.USER, m.GROUP):
            for o in (await rt.objects.list(kind, "", label_selector=f"domain={oid}")).items:
                await _delete(rt, o, kind.lower())
    await delete_named(rt, obj)
    if obj["kind"] == m.USER:
        await lockout.clear(rt.objects, obj)
    if obj["kind"] in (m.USER, m.GROUP):
        await identity.forget_memberships(rt.objects, obj["kind"].lower(), oid)
    if obj["kind"] == m.ROLE:
        await identity.forget_inferences(rt.objects, oid)
    if assignments is not None:
        for a in (await rt.objects.list(m.ROLE_ASSIGNMENT, "",
                                        label_selector=f"{assignments}={oid}")).items:
            await rt.objects.delete(m.ROLE_ASSIGNMENT, "", a["metadata"]["name"])
        rt.tokens.invalidate()
    return Response(status_code=204)


async def _one(request: Request, kind: str, key: str, view: View,
               may_read: Callable[[AuthContext, str], bool], *,
               assignments: str | None = None,
               deletable: Callable[[Obj], None] | None = None) -> Obj | Response:
    """GET and DELETE of one object (admins; readers ``may_read`` GET); for a PATCH, the
    object to edit."""
    oid = request.path_params["id"]
    ctx = await authenticate(request)
    if not ctx.is_admin and not (request.method == "GET" and may_read(ctx, oid)):
        raise _forbidden()
    obj = await get_obj(request, kind, oid, key)
    if request.method == "GET":
        return JSONResponse({key: view(request, obj)})
    if request.method == "DELETE":
        if deletable is not None:
            deletable(obj)
        return await _delete(runtime(request), obj, assignments)
    return obj


async def _patch(request: Request, obj: Obj, model: type, key: str, view: View,
                 fields: dict[str, str], *,
                 check: Callable[[Obj, Any], Any] | None = None) -> Response:
    """PATCH: parse, rename (claiming the new name), ``check`` (plain or async) and copy the
    fields, save."""
    patch = b.parse(model, await read_json(request), key)
    if check is not None:
        done = check(obj, patch)
        if inspect.isawaitable(done):
            await done
    old = _rename(obj, patch.name)
    _apply(obj["spec"], patch, fields)
    return await _saved(request, key, view, obj, old)


async def _saved(request: Request, key: str, view: View, obj: Obj, old_name: str,
                 invalidate: bool = True) -> Response:
    rt = runtime(request)
    obj = await save_named(rt, obj, old_name, key)
    if invalidate:
        rt.tokens.invalidate()
    return JSONResponse({key: view(request, obj)})


# ---- domains ------------------------------------------------------------------
async def domains(request: Request) -> Response:
    await admin(request)
    if request.method != "POST":
        return await _listing(request, m.DOMAIN, "domains", domain_view, ("name", "enabled"))
    d = b.parse(b.DomainBody, await read_json(request), "domain")
    obj = await create_named(runtime(request), m.obj(m.DOMAIN, m.new_id(), {
        "name": d.name, "description": d.description or "", "enabled": d.enabled},
        labels_for(d.name)), "domain")
    return _created("domain", domain_view, request, obj)


async def domain(request: Request) -> Response:
    obj = await _one(request, m.DOMAIN, "domain", domain_view,
                     lambda ctx, did: did in (ctx.user_domain_id, ctx.project_domain_id),
                     deletable=_disabled)
    if isinstance(obj, Response):
        return obj
    return await _patch(request, obj, b.DomainPatch, "domain", domain_view,
                        {"description": "description", "enabled": "enabled"},
                        check=_default_stays_enabled)


def _default_stays_enabled(obj: Obj, d: Any) -> None:
    if obj["metadata"]["name"] == m.DEFAULT_DOMAIN_ID and d.enabled is False:
        raise ApiError(403, "The default domain cannot be disabled.")
    _revoke_on_disable(obj, d)


def _revoke_on_disable(obj: Obj, patch: Any) -> None:
    """Disabling ends every token issued before it: re-enabling does not revive them."""
    if patch.enabled is False:
        obj["spec"]["tokensValidAfter"] = time.time()


def _disabled(obj: Obj) -> None:
    if obj["spec"].get("enabled", True):
        raise ApiError(403, "Cannot delete a domain that is enabled, please disable it first.")


# ---- projects -----------------------------------------------------------------
async def projects(request: Request) -> Response:
    """Projects; with ``is_domain``, domains seen as the projects Keystone keeps them as."""
    await admin(request)
    if request.method != "POST":
        if request.query_params.get("is_domain", "").lower() == "true":
            return await _listing(request, m.DOMAIN, "projects", domain_project_view,
                                  ("name", "enabled"))
        return await _listing(request, m.PROJECT, "projects", project_view,
                              ("name", "domain_id", "enabled", "parent_id"))
    rt = runtime(request)
    p = b.parse(b.ProjectBody, await read_json(request), "project")
    if p.is_domain:
        if p.domain_id or p.parent_id:
            raise ApiError(400, "A project acting as a domain has no domain or parent.")
        obj = await create_named(rt, m.obj(m.DOMAIN, m.new_id(), {
            "name": p.name, "description": p.description or "", "enabled": p.enabled},
            labels_for(p.name)), "domain")
        return _created("project", domain_project_view, request, obj)
    did, parent = await _project_place(rt, p.domain_id, p.parent_id)
    obj = await create_named(rt, m.obj(m.PROJECT, m.new_id(), {
        "name": p.name, "domainId": did, "description": p.description or "",
        "enabled": p.enabled, "tags": p.tags, "parentId": parent}, labels_for(p.name, did)),
        "project")
    return _created("project", project_view, request, obj)


async def _project_place(rt: Runtime, domain_id: str | None, parent_id: str | None
                         ) -> tuple[str, str | None]:
    """(domain, parent project): a parent project fixes the domain; a parent that is no
    project must be the domain itself."""
    parent = await rt.objects.try_get(m.PROJECT, "", parent_id) if parent_id else None
    if parent is None:
        return await _domain_id(rt, domain_id or parent_id), None
    did = parent["spec"]["domainId"]
    if domain_id not in (None, did):
        raise ApiError(400, "A project must be in the same domain as its parent.")
    return did, parent_id


async def project(request: Request) -> Response:
    rt = runtime(request)
    pid = request.path_params["id"]
    if await rt.objects.try_get(m.PROJECT, "", pid) is None and \
            await rt.objects.try_get(m.DOMAIN, "", pid) is not None:
        return await _domain_as_project(request)
    obj = await _one(request, m.PROJECT, "project", project_view,
                     lambda ctx, pid: pid == ctx.project_id, assignments="project")
    if isinstance(obj, Response):
        return obj
    return await _patch(request, obj, b.ProjectPatch, "project", project_view,
                        {"description": "description", "enabled": "enabled", "tags": "tags"},
                        check=_revoke_on_disable)


async def _domain_as_project(request: Request) -> Response:
    """/projects/{id} of a domain: Keystone's project acting as that domain."""
    obj = await _one(request, m.DOMAIN, "project", domain_project_view,
                     lambda ctx, did: did in (ctx.user_domain_id, ctx.project_domain_id),
                     deletable=_disabled)
    if isinstance(obj, Response):
        return obj
    return await _patch(request, obj, b.ProjectPatch, "project", domain_project_view,
                        {"description": "description", "enabled": "enabled"},
                        check=_default_stays_enabled)


# ---- users --------------------------------------------------------------------
USER_FIELDS = {"enabled": "enabled", "email": "email", "description": "description",
               "default_project_id": "defaultProjectId"}


async def users(request: Request) -> Response:
    await admin(request)
    if request.method != "POST":
        return await _listing(request, m.USER, "users", user_view,
                              ("name", "domain_id", "enabled"))
    rt = runtime(request)
    u = b.parse(b.UserBody, await read_json(request), "user")
    did = await _domain_id(rt, u.domain_id, 404)
    spec = {"name": u.name, "domainId": did, "enabled": u.enabled, "email": u.email,
            "description": u.description, "defaultProjectId": u.default_project_id}
    if u.password is not None:
        spec["passwordHash"] = await passwords.hash_async(u.password)
    spec["extra"] = dict(u.model_extra or {})  # Keystone keeps unknown attributes
    obj = await create_named(rt, m.obj(m.USER, m.new_id(), spec, labels_for(u.name, did)),
                             "user")
    return _created("user", user_view, request, obj)


async def user(request: Request) -> Response:
    obj = await _one(request, m.USER, "user", user_view,
                     lambda ctx, uid: uid == ctx.user_id, assignments="user")
    if isinstance(obj, Response):
        return obj
    rt = runtime(request)

    async def check(o: Obj, u: Any) -> None:
        await _user_patch(rt, o, u)

    return await _patch(request, obj, b.UserPatch, "user", user_view, USER_FIELDS, check=check)


async def _user_patch(rt: Runtime, obj: Obj, u: Any) -> None:
    """A new password, like disabling the user, ends every token issued before it; a new
    password or ``enabled: true`` from an admin also lifts a lockout (Keystone's unlock)."""
    if u.password is not None:  # an admin reset: remembered, not checked (as Keystone)
        identity.set_password_hash(obj["spec"], await passwords.hash_async(u.password),
                                   rt.config.unique_last_password_count)
        obj["spec"]["tokensValidAfter"] = time.time()
    obj["spec"]["extra"] = {**obj["spec"].get("extra", {}), **(u.model_extra or {})}
    _revoke_on_disable(obj, u)
    if u.password is not None or u.enabled is True:
        await lockout.clear(rt.objects, obj)


# ---- groups and roles ------------------------------------------------------------
async def groups(request: Request) -> Response:
    await admin(request)
    if request.method != "POST":
        return await _listing(request, m.GROUP, "groups", group_view, ("name", "domain_id"))
    rt = runtime(request)
    g = b.parse(b.GroupBody, await read_json(request), "group")
    did = await _domain_id(rt, g.domain_id)
    obj = await create_named(rt, m.obj(m.GROUP, m.new_id(), {
        "name": g.name, "domainId": did, "description": g.description or ""},
        labels_for(g.name, did)), "group")
    return _created("group", group_view, request, obj)


async def group(request: Request) -> Response:
    obj = await _one(request, m.GROUP, "group", group_view, lambda ctx, gid: False,
                     assignments="group")
    if isinstance(obj, Response):
        return obj
    return await _patch(request, obj, b.GroupPatch, "group", group_view,
                        {"description": "description"})


async def roles(request: Request) -> Response:
    ctx = await authenticate(request)
    if request.method != "POST":
        return await _listing(request, m.ROLE, "roles", role_view, ("name", "domain_id"))
    if not ctx.is_admin:
        raise _forbidden()
    r = b.parse(b.RoleBody, await read_json(request), "role")
    obj = await create_named(runtime(request), m.obj(m.ROLE, m.new_id(), {
        "name": r.name, "description": r.description, "domainId": r.domain_id},
        labels_for(r.name)), "role")
    return _created("role", role_view, request, obj)


async def role(request: Request) -> Response:
    ctx = await authenticate(request)
    obj = await get_obj(request, m.ROLE, request.path_params["id"], "role")
    if request.method == "GET":
        return JSONResponse({"role": role_view(request, obj)})
    if not ctx.is_admin:
        raise _forbidden()
    if request.method == "DELETE":
        if obj["spec"]["name"] in ("admin", "member", "reader"):
            raise ApiError(403, "Built-in roles cannot be deleted.")
        return await _delete(runtime(request), obj, "role")
    body = await read_json(request)
    r = b.parse(b.RoleBody, {"role": {"name": obj["spec"]["name"], **(body.get("role") or {})}},
                "role")
    old = _rename(obj, r.name)
    obj["spec"]["description"] = r.description
    return await _saved(request, "role", role_view, obj, old, invalidate=False)
