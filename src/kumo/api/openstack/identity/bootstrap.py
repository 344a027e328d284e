"""First start: the default domain, admin and service projects, built-in roles,
the admin user and the agents' service user, each with a generated password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from kumo.model import identity as m

from ...auth import hash_secret
from ...runtime import Runtime
from .views import labels_for


@dataclass
class BootstrapCredentials:
    admin_password: str
    service_user: str
    service_password: str
    service_project: str = "service"


async def bootstrap(rt: Runtime) -> BootstrapCredentials | None:
    """Idempotent: returns the generated passwords only when it created the admin user."""
    objects = rt.objects
    if await objects.try_get(m.DOMAIN, "", m.DEFAULT_DOMAIN_ID) is None:
        await objects.create(m.obj(m.DOMAIN, m.DEFAULT_DOMAIN_ID, {
            "name": "Default", "description": "The default domain", "enabled": True},
            labels_for("Default")))
    existing = await objects.list(m.USER, "", label_selector="name=admin")
    if existing.items:
        return None
    role_ids = {}
    for name in ("admin", "member", "reader"):
        found = await objects.list(m.ROLE, "", label_selector=f"name={name}")
        if found.items:
            role_ids[name] = found.items[0]["metadata"]["name"]
        else:
            rid = m.new_id()
            await objects.create(m.obj(m.ROLE, rid, {"name": name}, labels_for(name)))
            role_ids[name] = rid
    projects = {}
    for name in ("admin", "service"):
        pid = m.new_id()
        await objects.create(m.obj(m.PROJECT, pid, {
            "name": name, "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True,
            "description": f"Bootstrap project {name}"},
            labels_for(name, m.DEFAULT_DOMAIN_ID)))
        projects[name] = pid
    creds = BootstrapCredentials(secrets.token_urlsafe(18), "kumo-service",
                                 secrets.token_urlsafe(24))
    for uname, pw, proj in (("kumo-service", creds.service_password, "service"),
                            ("admin", creds.admin_password, "admin")):
        uid = m.new_id()
        await objects.create(m.obj(m.USER, uid, {
            "name": uname, "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True,
            "passwordHash": hash_secret(pw), "defaultProjectId": projects[proj]},
            labels_for(uname, m.DEFAULT_DOMAIN_ID)))
        rid = role_ids["admin"]
        await objects.create(m.obj(m.ROLE_ASSIGNMENT, m.assignment_name(
            "project", projects[proj], "user", uid, rid),
            {"userId": uid, "projectId": projects[proj], "roleId": rid},
            {"user": uid, "project": projects[proj], "role": rid}))
        if uname == "admin":
            await objects.create(m.obj(m.ROLE_ASSIGNMENT, m.assignment_name(
                "domain", m.DEFAULT_DOMAIN_ID, "user", uid, rid),
                {"userId": uid, "domainId": m.DEFAULT_DOMAIN_ID, "roleId": rid},
                {"user": uid, "domain": m.DEFAULT_DOMAIN_ID, "role": rid}))
    return creds
