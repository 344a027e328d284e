"""Who may write identity objects: Keystone's face only (and kumo itself).

Identity objects carry rules that only the Keystone face applies: unique names held by
``NameClaim`` objects (``kumo.core.names``), argon2 hashes instead of secrets, role
assignments removed with their user or project, tokens revoked when a user, project or
domain is disabled, lockout counters. A native-API write of one of these kinds would
bypass every one of them (a second user named ``admin``, a claim deleted under its
owner, a hash that is not one), so the native door serves them read-only: admins read
and watch them there and write them through ``/v3``.
"""

from __future__ import annotations

from typing import Any

from kumo import store
from kumo.core import passwords
from kumo.model import identity as idm
from kumo.model.lockout import LOGIN_FAILURES
from kumo.model.names import NAME_CLAIM

from .actor import Actor
from .errors import Forbidden

Obj = dict[str, Any]
KEYSTONE_ONLY = frozenset((*idm.IDENTITY_KINDS, NAME_CLAIM, LOGIN_FAILURES))


def admit_native_write(actor: Actor, kind: str, plural: str) -> None:
    """Forbidden for an identity kind unless kumo itself writes it."""
    if kind in KEYSTONE_ONLY and not actor.system:
        raise Forbidden(f"{plural} are written through the Identity API (/v3), which keeps "
                        "Keystone's rules; the native API serves them read-only",
                        rule=f"native:{plural}:write")


# ---- effective roles ----------------------------------------------------------------
# Keystone's resolution: a user holds a role on a scope if it is assigned to the user or
# to one of the user's groups on that scope, or — for a project — assigned *inherited*
# (OS-INHERIT) on the project's domain or on an ancestor project. Implied roles follow,
# transitively: the built-in admin ⊃ member ⊃ reader and stored ``ImpliedRole``s.


async def group_ids(objects: store.ObjectStore, user_id: str) -> list[str]:
    """The groups a user is a member of."""
    got = await objects.list(idm.GROUP_MEMBERSHIP, "", label_selector=f"user={user_id}")
    return [g["spec"]["groupId"] for g in got.items if g["spec"].get("groupId")]


async def _ancestors(objects: store.ObjectStore, project_id: str) -> list[tuple[str, str]]:
    """(scope type, id) of a project's parents up to and including its domain."""
    out: list[tuple[str, str]] = []
    seen = {project_id}
    proj = await objects.try_get(idm.PROJECT, "", project_id)
    while proj is not None:
        parent = proj["spec"].get("parentId")
        domain = proj["spec"].get("domainId") or idm.DEFAULT_DOMAIN_ID
        if not parent or parent == domain or parent in seen:
            out.append(("domain", domain))
            break
        seen.add(parent)
        out.append(("project", parent))
        proj = await objects.try_get(idm.PROJECT, "", parent)
    return out


async def _actors(objects: store.ObjectStore, user_id: str) -> list[tuple[str, str]]:
    """(actor type, id) of the user and of each of its groups: who a grant may name."""
    return [("user", user_id)] + [("group", g) for g in await group_ids(objects, user_id)]


async def assignments_for(objects: store.ObjectStore, user_id: str, scope_type: str,
                          scope_id: str) -> list[Obj]:
    """Every role assignment that gives ``user_id`` a role on the scope."""
    actors = await _actors(objects, user_id)
    inherited_from = (await _ancestors(objects, scope_id)) if scope_type == "project" else []
    out: list[Obj] = []
    for atype, aid in actors:
        sel = f"{atype}={aid},{scope_type}={scope_id}"
        out += [a for a in (await objects.list(idm.ROLE_ASSIGNMENT, "", label_selector=sel)
                            ).items if not a["spec"].get("inherited")]
        for ptype, pid in inherited_from:
            sel = f"{atype}={aid},{ptype}={pid},inherited=true"
            out += (await objects.list(idm.ROLE_ASSIGNMENT, "", label_selector=sel)).items
    return out


async def _implied(objects: store.ObjectStore, role: Obj) -> list[Obj]:
    out = [i for i in [await objects.try_get(idm.ROLE, "", r["spec"].get("impliedRoleId", ""))
                       for r in (await objects.list(
                           idm.IMPLIED_ROLE, "",
                           label_selector=f"prior={role['metadata']['name']}")).items]
           if i is not None]
    for name in idm.IMPLIED_ROLES.get(role["spec"]["name"], ()):
        out += (await objects.list(idm.ROLE, "", label_selector=f"name={name}")).items
    return out


async def role_closure(objects: store.ObjectStore, roles: list[Obj]) -> list[Obj]:
    """The roles and every role they imply, transitively. Domain-specific roles are only
    a way to imply others (Keystone keeps them out of tokens), so they are left out."""
    todo, found = list(roles), {}
    while todo:
        role = todo.pop()
        rid = role["metadata"]["name"]
        if rid in found:
            continue
        found[rid] = role
        todo += await _implied(objects, role)
    return [r for r in found.values() if not r["spec"].get("domainId")]


async def effective_roles(objects: store.ObjectStore, user_id: str, scope_type: str,
                          scope_id: str) -> list[tuple[str, str]]:
    """(id, name) of the user's roles on the scope, implied roles included, sorted."""
    assigned = []
    for a in await assignments_for(objects, user_id, scope_type, scope_id):
        role = await objects.try_get(idm.ROLE, "", a["spec"]["roleId"])
        if role is not None:
            assigned.append(role)
    return sorted((r["metadata"]["name"], r["spec"]["name"])
                  for r in await role_closure(objects, assigned))


async def actor_assignments(objects: store.ObjectStore, user_id: str) -> list[Obj]:
    """Every role assignment of the user and of the user's groups."""
    out: list[Obj] = []
    for atype, aid in await _actors(objects, user_id):
        out += (await objects.list(idm.ROLE_ASSIGNMENT, "",
                                   label_selector=f"{atype}={aid}")).items
    return out


async def scopes_of(objects: store.ObjectStore, user_id: str) -> dict[str, set[str]]:
    """The project ids, domain ids and system scopes on which the user holds any role
    (``/v3/auth/projects``, ``/v3/auth/domains``, ``/v3/auth/system``)."""
    out: dict[str, set[str]] = {"project": set(), "domain": set(), "system": set()}
    inherited_domains = set()
    for a in await actor_assignments(objects, user_id):
        s = a["spec"]
        if s.get("inherited"):
            if s.get("domainId"):
                inherited_domains.add(s["domainId"])
            continue
        for scope in ("project", "domain", "system"):
            value = s.get(f"{scope}Id") or (s.get("system") if scope == "system" else None)
            if value:
                out[scope].add(value)
    for did in inherited_domains:
        out["project"] |= {p["metadata"]["name"] for p in (await objects.list(
            idm.PROJECT, "", label_selector=f"domain={did}")).items}
    return out


async def _delete_selected(objects: store.ObjectStore, kind: str, selector: str) -> None:
    """Delete every object of ``kind`` the selector matches (one already gone is fine)."""
    for o in (await objects.list(kind, "", label_selector=selector)).items:
        try:
            await objects.delete(kind, "", o["metadata"]["name"])
        except store.NotFound:
            pass


async def forget_memberships(objects: store.ObjectStore, label: str, oid: str) -> None:
    """Remove the group memberships of a deleted user or group (``label`` is either)."""
    await _delete_selected(objects, idm.GROUP_MEMBERSHIP, f"{label}={oid}")


async def forget_inferences(objects: store.ObjectStore, role_id: str) -> None:
    """Remove the stored inferences naming a deleted role, as prior or implied."""
    for label in ("prior", "implied"):
        await _delete_selected(objects, idm.IMPLIED_ROLE, f"{label}={role_id}")


# ---- password history (Keystone's [security_compliance] unique_last_password_count) --
async def reused_password(spec: Obj, password: str, count: int) -> bool:
    """Is ``password`` one of the user's last ``count`` passwords (the current one too)?"""
    if count <= 0:
        return False
    hashes = [spec.get("passwordHash"), *(spec.get("passwordHistory") or [])][:count]
    for h in hashes:
        if h and await passwords.verify_async(h, password):
            return True
    return False


def set_password_hash(spec: Obj, new_hash: str, count: int) -> None:
    """Replace the user's password hash, remembering the old one for the history check
    (at most ``count - 1`` kept: with the current one they are the last ``count``)."""
    old = spec.get("passwordHash")
    history = [h for h in [old, *(spec.get("passwordHistory") or [])] if h]
    spec["passwordHistory"] = history[:max(count - 1, 0)]
    spec["passwordHash"] = new_hash


# ---- access rules of application credentials ----------------------------------------
def _path_matches(pattern: str, path: str) -> bool:
    """Keystone's rule paths: ``*`` is one path segment, ``**`` any number of them."""
    pat, got = pattern.strip("/").split("/"), path.strip("/").split("/")
    if "**" in pat:
        i = pat.index("**")
        head, tail = pat[:i], pat[i + 1:]
        return (len(got) >= len(head) + len(tail)
                and _path_matches("/".join(head), "/".join(got[:len(head)]))
                and _path_matches("/".join(tail), "/".join(got[len(got) - len(tail):])))
    return len(pat) == len(got) and all(p in ("*", g) for p, g in zip(pat, got, strict=True))


def access_allowed(rules: list[Obj] | tuple[Obj, ...], service: str | None, path: str,
                   method: str) -> bool:
    """May a request (service type, path within the service, method) go ahead under a
    credential's access rules? No rules: anything; rules: one must match."""
    if not rules:
        return True
    methods = {method, "GET"} if method == "HEAD" else {method}
    return any(r.get("service") == service and r.get("method") in methods
               and _path_matches(str(r.get("path", "")), path) for r in rules)
