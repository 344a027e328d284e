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
GROUP_MEMBERSHIP = "GroupMembership"
CREDENTIAL = "Credential"
SERVICE = "Service"
ENDPOINT = "Endpoint"
REGION = "Region"
IMPLIED_ROLE = "ImpliedRole"
POLICY = "PolicyBlob"  # Keystone's /v3/policies (plural "policyblobs")
TRUST = "Trust"
ENDPOINT_GROUP = "EndpointGroup"
ACCESS_RULE = "AccessRule"

IDENTITY_KINDS = (DOMAIN, PROJECT, USER, ROLE, ROLE_ASSIGNMENT, APP_CREDENTIAL,
                  TOKEN_REVOCATION, GROUP, GROUP_MEMBERSHIP, CREDENTIAL, SERVICE, ENDPOINT,
                  REGION, IMPLIED_ROLE, POLICY, TRUST, ENDPOINT_GROUP,
                  ACCESS_RULE)
SYSTEM_ALL = "all"  # the only system scope Keystone has

# Where a kind's names must be unique (Keystone's rules): per domain, per user, or
# globally (kinds not listed). kumo.core.names claims (kind, scope value, name).
NAME_SCOPE = {PROJECT: "domainId", USER: "domainId", GROUP: "domainId",
              APP_CREDENTIAL: "userId"}

DEFAULT_DOMAIN_ID = "default"
# Built-in role hierarchy, as Keystone's bootstrap creates it: admin ⊃ member ⊃ reader.
IMPLIED_ROLES = {"admin": ("member", "reader"), "member": ("reader",)}


def new_id() -> str:
    return uuid.uuid4().hex


def name_scope(kind: str, spec: dict) -> str:
    """The scope in which this object's name is unique ("" for a global name)."""
    field = NAME_SCOPE.get(kind)
    return str(spec.get(field) or "") if field else ""


def assignment_name(scope_type: str, scope_id: str, actor_type: str, actor_id: str,
                    role_id: str) -> str:
    return f"{scope_type}.{scope_id}.{actor_type}.{actor_id}.{role_id}"


def membership_name(group_id: str, user_id: str) -> str:
    return f"{group_id}.{user_id}"


def obj(kind: str, name: str, spec: dict, labels: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "kumo.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "", "labels": labels or {}}, "spec": spec}
