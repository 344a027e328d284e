"""Identity kinds (Keystone's resources): cluster-scoped, named by their Keystone id.

Secrets are stored only as argon2 hashes (``passwordHash``, ``secretHash``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kumo.model import identity as idm
from kumo.model.base import Model, Named, Resource
from kumo.model.lockout import LOGIN_FAILURES
from kumo.model.names import NAME_CLAIM


class DomainSpec(Named):
    enabled: bool = True
    config: dict[str, dict[str, Any]] | None = None  # domain-specific configuration
    tokens_valid_after: float | None = None  # disabled at: older tokens stay revoked


class InDomain(Named):
    domain_id: str = idm.DEFAULT_DOMAIN_ID


class Domain(Resource):
    KIND = idm.DOMAIN
    spec: DomainSpec = Field(default_factory=DomainSpec)


class ProjectSpec(InDomain):
    enabled: bool = True
    parent_id: str | None = None
    is_domain: bool = False
    tokens_valid_after: float | None = None  # disabled at: older tokens stay revoked


class Project(Resource):
    KIND = idm.PROJECT
    spec: ProjectSpec = Field(default_factory=ProjectSpec)


class UserSpec(InDomain):
    enabled: bool = True
    email: str | None = None
    default_project_id: str | None = None
    password_hash: str | None = None
    password_history: list[str] = Field(default_factory=list)  # earlier hashes, newest first
    tokens_valid_after: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)  # Keystone's unknown attributes


class User(Resource):
    KIND = idm.USER
    spec: UserSpec = Field(default_factory=UserSpec)


class GroupSpec(InDomain):
    pass


class Group(Resource):
    KIND = idm.GROUP
    spec: GroupSpec = Field(default_factory=GroupSpec)


class RoleSpec(Named):
    domain_id: str | None = None


class Role(Resource):
    KIND = idm.ROLE
    spec: RoleSpec = Field(default_factory=RoleSpec)


class RoleAssignmentSpec(Model):
    role_id: str = ""
    user_id: str | None = None
    group_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    inherited: bool = False


class RoleAssignment(Resource):
    KIND = idm.ROLE_ASSIGNMENT
    spec: RoleAssignmentSpec = Field(default_factory=RoleAssignmentSpec)


class ApplicationCredentialSpec(Named):
    user_id: str = ""
    project_id: str | None = None
    secret_hash: str = ""
    roles: list[dict[str, Any]] = Field(default_factory=list)
    expires_at: str | float | None = None
    unrestricted: bool = False
    access_rules: list[dict[str, Any]] = Field(default_factory=list)


class ApplicationCredential(Resource):
    KIND = idm.APP_CREDENTIAL
    spec: ApplicationCredentialSpec = Field(default_factory=ApplicationCredentialSpec)


class GroupMembershipSpec(Model):
    group_id: str = ""
    user_id: str = ""


class GroupMembership(Resource):
    """A user in a group, named ``<group>.<user>``: adding twice is idempotent."""

    KIND = idm.GROUP_MEMBERSHIP
    spec: GroupMembershipSpec = Field(default_factory=GroupMembershipSpec)


class CredentialSpec(Model):
    user_id: str = ""
    project_id: str | None = None
    type: str = ""
    blob: str = ""


class Credential(Resource):
    """Keystone's credential store (``ec2``, ``totp``, ``cert`` blobs) kept for its user."""

    KIND = idm.CREDENTIAL
    spec: CredentialSpec = Field(default_factory=CredentialSpec)


class ServiceSpec(Model):
    type: str = ""
    name: str | None = None
    description: str | None = None
    enabled: bool = True


class Service(Resource):
    """A catalog service added through ``/v3/services`` (kumo's own are built in)."""

    KIND = idm.SERVICE
    spec: ServiceSpec = Field(default_factory=ServiceSpec)


class EndpointSpec(Model):
    service_id: str = ""
    interface: str = "public"
    url: str = ""
    region_id: str | None = None
    enabled: bool = True


class Endpoint(Resource):
    KIND = idm.ENDPOINT
    spec: EndpointSpec = Field(default_factory=EndpointSpec)


class RegionSpec(Model):
    description: str = ""
    parent_region_id: str | None = None


class Region(Resource):
    KIND = idm.REGION
    spec: RegionSpec = Field(default_factory=RegionSpec)


class ImpliedRoleSpec(Model):
    prior_role_id: str = ""
    implied_role_id: str = ""


class ImpliedRole(Resource):
    """A role inference added through ``/v3/roles/{prior}/implies/{implied}``."""

    KIND = idm.IMPLIED_ROLE
    spec: ImpliedRoleSpec = Field(default_factory=ImpliedRoleSpec)


class PolicySpec(Model):
    type: str = ""
    blob: str = ""


class PolicyBlob(Resource):
    """An opaque policy blob (Keystone's deprecated policy store)."""

    KIND = idm.POLICY
    spec: PolicySpec = Field(default_factory=PolicySpec)


class TrustSpec(Model):
    trustor_user_id: str = ""
    trustee_user_id: str = ""
    project_id: str | None = None
    impersonation: bool = False
    roles: list[dict[str, Any]] = Field(default_factory=list)
    expires_at: float | None = None
    remaining_uses: int | None = None
    allow_redelegation: bool = False


class Trust(Resource):
    """A delegation of a trustor's roles on a project to a trustee (OS-TRUST)."""

    KIND = idm.TRUST
    spec: TrustSpec = Field(default_factory=TrustSpec)


class EndpointGroupSpec(Model):
    name: str = ""
    description: str | None = None
    filters: dict[str, str] = Field(default_factory=dict)
    projects: list[str] = Field(default_factory=list)  # associated project ids


class EndpointGroup(Resource):
    """A filter over the catalog, narrowing associated projects' tokens (OS-EP-FILTER)."""

    KIND = idm.ENDPOINT_GROUP
    spec: EndpointGroupSpec = Field(default_factory=EndpointGroupSpec)


class AccessRuleSpec(Model):
    user_id: str = ""
    service: str = ""
    path: str = ""
    method: str = ""


class AccessRule(Resource):
    """What a user's application credentials may call (service type, path, method)."""

    KIND = idm.ACCESS_RULE
    spec: AccessRuleSpec = Field(default_factory=AccessRuleSpec)


class TokenRevocationSpec(Model):
    expires_at: float | str | None = None


class TokenRevocation(Resource):
    """A revoked token, named by its audit id, kept until the token would have expired."""

    KIND = idm.TOKEN_REVOCATION
    spec: TokenRevocationSpec = Field(default_factory=TokenRevocationSpec)


class NameClaimSpec(Model):
    kind: str
    scope: str = ""
    name: str
    owner: str
    owner_namespace: str = ""
    claimed_at: float = 0.0


class NameClaim(Resource):
    """A unique name held by its owner (``kumo.core.names``)."""

    KIND = NAME_CLAIM
    spec: NameClaimSpec


class LoginFailuresSpec(Model):
    user_id: str = ""
    count: int = 0
    last_failure_at: float = 0.0


class LoginFailures(Resource):
    """A user's recent failed logins (``kumo.core.lockout``)."""

    KIND = LOGIN_FAILURES
    spec: LoginFailuresSpec = Field(default_factory=LoginFailuresSpec)
