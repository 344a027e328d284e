"""Role grants on projects, domains and the system (OS-INHERIT too), role assignment
listing, and group membership: Keystone's assignment API.

A grant is a ``RoleAssignment`` named from its parts, so granting twice is idempotent and
revoking is a delete by name; an inherited grant (``/OS-INHERIT/...inherited_to_projects``)
is another object, labelled ``inherited=true``, that gives the role on the scope's
projects but not on the scope itself (``kumo.core.identity.assignments_for``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.core import identity
from kumo.model import identity as m

from ...auth import authenticate
from ...errors import ApiError
from ...runtime import Runtime, runtime
from .resources import admin, self_or_admin
from .views import collection, get_obj, group_view, role_view, user_view

SCOPES = {"projects": ("project", m.PROJECT), "domains": ("domain", m.DOMAIN),
          "system": ("system", None)}
ACTORS = {"users": ("user", m.USER), "groups": ("group", m.GROUP)}
Parts = tuple[str, str, str, str, str]


def _inherited(request: Request) -> bool:
    return request.url.path.endswith("/inherited_to_projects")


async def _grant_parts(request: Request) -> Parts:
    """(scope type, scope id, actor type, actor id, role id); the system routes have no
    scope segments (the system is ``all``)."""
    p = request.path_params
    scopes, scope_id = p.get("scopes", "system"), p.get("scope", m.SYSTEM_ALL)
    if scopes not in SCOPES or p["actors"] not in ACTORS:
        raise ApiError(404, "The resource could not be found.")
    if scopes == "system" and _inherited(request):
        raise ApiError(404, "The resource could not be found.")
    scope_type, scope_kind = SCOPES[scopes]
    actor_type, actor_kind = ACTORS[p["actors"]]
    if scope_kind is not None:
        await get_obj(request, scope_kind, scope_id, scope_type)
    await get_obj(request, actor_kind, p["actor"], actor_type)
    return scope_type, scope_id, actor_type, p["actor"], p.get("role", "")


def _assignment(parts: Parts, inherited: bool) -> dict[str, Any]:
    scope_type, scope_id, actor_type, actor_id, role_id = parts
    name = m.assignment_name(*parts) + (".inherited" if inherited else "")
    spec: dict[str, Any] = {f"{actor_type}Id": actor_id, "roleId": role_id,
                            "inherited": inherited}
    spec["system" if scope_type == "system" else f"{scope_type}Id"] = scope_id
    labels = {actor_type: actor_id, scope_type: scope_id, "role": role_id}
    if inherited:
        labels["inherited"] = "true"
    return m.obj(m.ROLE_ASSIGNMENT, name, spec, labels)


async def grant(request: Request) -> Response:
    """PUT/HEAD/GET/DELETE of one grant (204, or 404 when absent)."""
    rt = runtime(request)
    await admin(request)
    parts = await _grant_parts(request)
    await get_obj(request, m.ROLE, parts[4], "role")
    return await _link(request, rt, _assignment(parts, _inherited(request)),
                       f"Could not find role assignment of role {parts[4]}.")


async def _link(request: Request, rt: Runtime, obj: dict[str, Any], missing: str
                ) -> Response:
    """PUT creates a link object (a grant, a membership) named from its parts, so twice
    is once; HEAD/GET find it (404 ``missing``), DELETE removes it. A change re-resolves
    every token's roles."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    if request.method == "PUT":
        try:
            await rt.objects.create(obj)
        except store.AlreadyExists:
            pass
        rt.tokens.invalidate()
        return Response(status_code=204)
    if await rt.objects.try_get(kind, "", name) is None:
        raise ApiError(404, missing)
    if request.method == "DELETE":
        await rt.objects.delete(kind, "", name)
        rt.tokens.invalidate()
    return Response(status_code=204)


async def grants_list(request: Request) -> Response:
    rt = runtime(request)
    await admin(request)
    scope_type, scope_id, actor_type, actor_id, _ = await _grant_parts(request)
    inherited = _inherited(request)
    sel = f"{actor_type}={actor_id},{scope_type}={scope_id}"
    out = []
    for a in (await rt.objects.list(m.ROLE_ASSIGNMENT, "", label_selector=sel)).items:
        if bool(a["spec"].get("inherited")) != inherited:
            continue
        r = await rt.objects.try_get(m.ROLE, "", a["spec"]["roleId"])
        if r is not None:
            out.append(role_view(request, r))
    return JSONResponse({"roles": out, "links": {"self": str(request.url)}})


# ---- role assignments ---------------------------------------------------------------
FILTERS = (("user.id", "user"), ("group.id", "group"), ("role.id", "role"),
           ("scope.project.id", "project"), ("scope.domain.id", "domain"))


def _selector(request: Request, effective: bool) -> str | None:
    q = request.query_params
    parts = [f"{label}={q[param]}" for param, label in FILTERS
             if q.get(param) and not (effective and label == "role")]
    if q.get("scope.system"):
        parts.append(f"system={q['scope.system']}")
    if q.get("scope.OS-INHERIT:inherited_to") == "projects":
        parts.append("inherited=true")
    return ",".join(parts) or None


def _flag(request: Request, name: str) -> bool:
    return name in request.query_params and request.query_params[name] not in ("0", "false")


async def _effective(request: Request, rt: Runtime, items: list[dict[str, Any]]
                     ) -> list[dict[str, Any]]:
    """``?effective``: what a token would carry — one user's roles on one scope resolved
    as token validation does (groups, inheritance); otherwise group assignments expanded
    per member. Implied roles are added and domain-specific roles dropped either way."""
    q = request.query_params
    uid, pid, did = q.get("user.id"), q.get("scope.project.id"), q.get("scope.domain.id")
    if uid and (pid or did):
        stype, sid = ("project", pid) if pid else ("domain", str(did))
        items = [{**a, "spec": {"userId": uid, "roleId": a["spec"]["roleId"],
                                f"{stype}Id": sid}}
                 for a in await identity.assignments_for(rt.objects, uid, stype, sid)]
    else:
        items = await _members(rt, [a for a in items if not a["spec"].get("inherited")])
    out, seen = [], set()
    for a in items:
        role = await rt.objects.try_get(m.ROLE, "", a["spec"]["roleId"])
        for r in await identity.role_closure(rt.objects, [role] if role else []):
            spec = {**a["spec"], "roleId": r["metadata"]["name"]}
            key = tuple(spec.get(k) for k in ("userId", "projectId", "domainId", "system",
                                               "roleId"))
            if key not in seen:
                seen.add(key)
                out.append({**a, "spec": spec})
    if q.get("role.id"):
        out = [a for a in out if a["spec"]["roleId"] == q["role.id"]]
    return out


async def _members(rt: Runtime, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group assignments expanded to one per member."""
    out = []
    for a in items:
        gid = a["spec"].get("groupId")
        if not gid:
            out.append(a)
            continue
        for mem in (await rt.objects.list(m.GROUP_MEMBERSHIP, "",
                                          label_selector=f"group={gid}")).items:
            spec = {**a["spec"], "userId": mem["spec"].get("userId"), "groupId": None}
            out.append({**a, "spec": spec, "viaGroup": gid})
    return out


async def role_assignments(request: Request) -> Response:
    rt = runtime(request)
    ctx = await authenticate(request)
    if not ctx.is_admin and request.query_params.get("user.id") != ctx.user_id:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    effective = _flag(request, "effective")
    items = (await rt.objects.list(m.ROLE_ASSIGNMENT, "",
                                   label_selector=_selector(request, effective))).items
    if effective:
        items = await _effective(request, rt, items)
        if request.query_params.get("user.id"):
            items = [a for a in items if a["spec"].get("userId") == request.query_params[
                "user.id"]]
    names = Namer(rt, _flag(request, "include_names"))
    out = [await _entry(request, names, a) for a in items]
    return JSONResponse({"role_assignments": out, "links": {"self": str(request.url)}})


class Namer:
    """``{"id": ...}`` references, with names (and domains) under ``include_names``."""

    def __init__(self, rt: Runtime, names: bool) -> None:
        self.rt, self.names = rt, names
        self.cache: dict[tuple[str, str], Any] = {}

    async def ref(self, kind: str, oid: str) -> dict[str, Any]:
        if (kind, oid) not in self.cache:
            self.cache[(kind, oid)] = await self.rt.objects.try_get(kind, "", oid)
        obj = self.cache[(kind, oid)]
        out: dict[str, Any] = {"id": oid}
        if self.names and obj is not None:
            out["name"] = obj["spec"]["name"]
            if kind not in (m.ROLE, m.DOMAIN):
                out["domain"] = await self.ref(m.DOMAIN, obj["spec"]["domainId"])
        return out


async def _entry(request: Request, names: Namer, a: dict[str, Any]) -> dict[str, Any]:
    s = a["spec"]
    entry: dict[str, Any] = {"role": await names.ref(m.ROLE, s["roleId"]),
                             "links": {"assignment": str(request.url)}}
    if s.get("userId"):
        entry["user"] = await names.ref(m.USER, s["userId"])
    if s.get("groupId"):
        entry["group"] = await names.ref(m.GROUP, s["groupId"])
    if a.get("viaGroup"):
        entry["links"]["membership"] = str(request.url)
    if s.get("projectId"):
        entry["scope"] = {"project": await names.ref(m.PROJECT, s["projectId"])}
    elif s.get("domainId"):
        entry["scope"] = {"domain": await names.ref(m.DOMAIN, s["domainId"])}
    elif s.get("system"):
        entry["scope"] = {"system": {s["system"]: True}}
    if s.get("inherited"):
        entry["scope"]["OS-INHERIT:inherited_to"] = "projects"
    return entry


# ---- group membership ----------------------------------------------------------------
async def member(request: Request) -> Response:
    """PUT/HEAD/GET/DELETE /groups/{id}/users/{user}."""
    rt = runtime(request)
    await admin(request)
    gid, uid = request.path_params["id"], request.path_params["user"]
    await get_obj(request, m.GROUP, gid, "group")
    await get_obj(request, m.USER, uid, "user")
    obj = m.obj(m.GROUP_MEMBERSHIP, m.membership_name(gid, uid),
                {"groupId": gid, "userId": uid}, {"group": gid, "user": uid})
    return await _link(request, rt, obj, f"User '{uid}' not found in group '{gid}'.")


async def group_users(request: Request) -> Response:
    rt = runtime(request)
    await admin(request)
    gid = request.path_params["id"]
    await get_obj(request, m.GROUP, gid, "group")
    out = []
    for mem in (await rt.objects.list(m.GROUP_MEMBERSHIP, "",
                                      label_selector=f"group={gid}")).items:
        u = await rt.objects.try_get(m.USER, "", mem["spec"].get("userId", ""))
        if u is not None:
            out.append(user_view(request, u))
    return collection(request, "users", out)


async def user_groups(request: Request) -> Response:
    rt = runtime(request)
    uid = await self_or_admin(request)
    await get_obj(request, m.USER, uid, "user")
    out = [group_view(request, g) for g in [
        await rt.objects.try_get(m.GROUP, "", gid)
        for gid in await identity.group_ids(rt.objects, uid)] if g is not None]
    return collection(request, "groups", out)
