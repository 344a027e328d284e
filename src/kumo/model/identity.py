"""Identity kinds (Keystone's resources) as stored objects.

All are cluster-scoped (namespace ""); the object name is the Keystone id.
Role assignments are objects with deterministic names, so granting twice is
idempotent and revoking is a delete by name.
"""

from __future__ import annotations

import uuid

DOMAIN = "Domain"
PROJECT = "Project"
USER = "User"
ROLE = "Role"
ROLE_ASSIGNMENT = "RoleAssignment"
APP_CREDENTIAL = "ApplicationCredential"
TOKEN_REVOCATION = "TokenRevocation"
GROUP = "Group"

IDENTITY_KINDS = (DOMAIN, PROJECT, USER, ROLE, ROLE_ASSIGNMENT, APP_CREDENTIAL,
                  TOKEN_REVOCATION, GROUP)

DEFAULT_DOMAIN_ID = "default"
# Built-in role hierarchy, as Keystone's bootstrap creates it: admin ⊃ member ⊃ reader.
IMPLIED_ROLES = {"admin": ("member", "reader"), "member": ("reader",)}


def new_id() -> str:
    return uuid.uuid4().hex


def assignment_name(scope_type: str, scope_id: str, actor_type: str, actor_id: str,
                    role_id: str) -> str:
    return f"{scope_type}.{scope_id}.{actor_type}.{actor_id}.{role_id}"


def obj(kind: str, name: str, spec: dict, labels: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "kumo.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "", "labels": labels or {}}, "spec": spec}
