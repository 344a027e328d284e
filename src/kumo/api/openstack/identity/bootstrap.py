"""First start: the default domain, admin and service projects, built-in roles,
the admin user and the agents' service user, each with a generated password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from kumo import store
from kumo.core import lockout, names, passwords
from kumo.model import identity as m

from ...runtime import Runtime
from .views import label_value, labels_for

SERVICE_USER = "kumo-service"
# The agents' user is never locked out: a guesser could otherwise stop every host.
SERVICE_OPTIONS = {lockout.IGNORE_OPTION: True}


@dataclass
class BootstrapCredentials:
    admin_password: str
    service_user: str
    service_password: str
    service_project: str = "service"


async def _ensure(rt: Runtime, kind: str, name: str, spec: dict[str, Any]) -> str:
    """The id of the object of ``kind`` named ``name`` (its spec updated), created with its
    name claimed when missing: a bootstrap interrupted half-way is completed, not doubled."""
    spec = {"name": name, **spec}
    scope = m.name_scope(kind, spec)
    found = await rt.objects.list(kind, "", label_selector=f"name={label_value(name)}")
    for obj in found.items:
        if obj["spec"]["name"] == name and m.name_scope(kind, obj["spec"]) == scope:
            await rt.objects.mutate(kind, "", obj["metadata"]["name"],
                                    lambda o: o["spec"].update(spec), current=obj)
            return obj["metadata"]["name"]
    oid = m.DEFAULT_DOMAIN_ID if kind == m.DOMAIN else m.new_id()
    await names.create_unique(rt.objects, m.obj(kind, oid, spec, labels_for(
        name, spec.get("domainId"))), scope)
    return oid


async def _grant_admin(rt: Runtime, scope_type: str, scope_id: str, uid: str, rid: str) -> None:
    try:
        await rt.objects.create(m.obj(m.ROLE_ASSIGNMENT, m.assignment_name(
            scope_type, scope_id, "user", uid, rid),
            {"userId": uid, f"{scope_type}Id": scope_id, "roleId": rid},
            {"user": uid, scope_type: scope_id, "role": rid}))
    except store.AlreadyExists:
        pass


async def _exempt_service_user(rt: Runtime) -> None:
    """Clouds bootstrapped before lockout existed: exempt their service user too."""
    for user in (await rt.objects.list(m.USER, "", label_selector=f"name={SERVICE_USER}")).items:
        if lockout.exempt(user) or user["spec"].get("domainId") != m.DEFAULT_DOMAIN_ID:
            continue
        await rt.objects.mutate(m.USER, "", user["metadata"]["name"], lambda o: o["spec"].update(
            options={**(o["spec"].get("options") or {}), **SERVICE_OPTIONS}), current=user)


async def bootstrap(rt: Runtime) -> BootstrapCredentials | None:
    """Idempotent: returns the generated passwords only when it created the admin user."""
    if await rt.objects.try_get(m.DOMAIN, "", m.DEFAULT_DOMAIN_ID) is None:
        await _ensure(rt, m.DOMAIN, "Default", {"description": "The default domain",
                                                "enabled": True})
    existing = await rt.objects.list(m.USER, "", label_selector="name=admin")
    if existing.items:
        await _exempt_service_user(rt)
        return None
    admin_role = await _ensure(rt, m.ROLE, "admin", {})
    for name in ("member", "reader"):
        await _ensure(rt, m.ROLE, name, {})
    projects = {name: await _ensure(rt, m.PROJECT, name, {
        "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True,
        "description": f"Bootstrap project {name}"}) for name in ("admin", "service")}
    creds = BootstrapCredentials(secrets.token_urlsafe(18), SERVICE_USER,
                                 secrets.token_urlsafe(24))
    for uname, pw, proj in ((SERVICE_USER, creds.service_password, "service"),
                            ("admin", creds.admin_password, "admin")):
        uid = await _ensure(rt, m.USER, uname, {
            "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True,
            "passwordHash": await passwords.hash_async(pw), "defaultProjectId": projects[proj],
            **({"options": SERVICE_OPTIONS} if uname == SERVICE_USER else {})})
        await _grant_admin(rt, "project", projects[proj], uid, admin_role)
        if uname == "admin":
            await _grant_admin(rt, "domain", m.DEFAULT_DOMAIN_ID, uid, admin_role)
    return creds
