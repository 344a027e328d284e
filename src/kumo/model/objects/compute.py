"""Compute kinds: Server, Host, HostAllocation, Lease, Flavor, Keypair, ServerGroup,
InstanceAction, ConsoleLog, QuotaSet, QuotaUsage, QuotaClaim (field owners:
``kumo.model.compute``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kumo.model import compute as cm
from kumo.model.base import Model, Resource

Obj = dict[str, Any]


class FlavorSize(Model):
    """A flavor's shape, as the flavor holds it and as a server keeps a copy of it."""

    name: str = ""
    vcpus: int = 0
    ram: int = 0
    disk: int = 0
    ephemeral: int = 0
    swap: int = 0
    extra_specs: dict[str, str] = Field(default_factory=dict)


class FlavorRef(FlavorSize):
    id: str = ""


class Nonce(Model):
    nonce: int = 0
    type: str | None = None


class ServerSpec(Model):
    """What the tenant asked for (compute face), plus ``host`` written once by the scheduler."""

    display_name: str = ""
    flavor: FlavorRef = Field(default_factory=FlavorRef)
    image: Obj | None = None
    key_name: str | None = None
    user_data: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    availability_zone: str | None = None
    networks: str | list[Obj] | None = None
    ports: list[str] = Field(default_factory=list)
    power: str = "on"
    reboot: Nonce | None = None
    rebuild: Obj | None = None
    locked: Obj | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    request_id: str | None = None
    host: str | None = None


class Fault(Model):
    message: str = ""
    code: int = 500
    details: str | None = None
    created: str | None = None


class ServerStatus(Model):
    """Scheduler until bound, then the host's agent."""

    vm_state: str = "building"
    task_state: str | None = None
    power_state: int = cm.NOSTATE
    host: str | None = None
    hypervisor_hostname: str | None = None
    launched_at: str | None = None
    fault: Fault | None = None
    observed_reboot_nonce: int | None = None
    observed_rebuild_nonce: int | None = None
    attempts: int = 0
    excluded_hosts: list[str] = Field(default_factory=list)


class Server(Resource):
    KIND = cm.SERVER
    spec: ServerSpec = Field(default_factory=ServerSpec)
    status: ServerStatus = Field(default_factory=ServerStatus)


class Capacity(Model):
    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0


class HostSpec(Model):
    enabled: bool = True
    disabled_reason: str | None = None
    availability_zone: str | None = None
    allocation_ratios: dict[str, float] = Field(default_factory=dict)


class HostStatus(Model):
    capacity: Capacity = Field(default_factory=Capacity)
    accelerator: str | None = None
    hypervisor_type: str | None = None
    cpu_arch: str | None = None
    vtep_ip: str | None = None


class Host(Resource):
    KIND = cm.HOST
    spec: HostSpec = Field(default_factory=HostSpec)
    status: HostStatus = Field(default_factory=HostStatus)


class Allocation(Model):
    """One server's share of a host (``kumo.core.claims``)."""

    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0
    server: str = ""
    namespace: str = ""
    claim: str | None = None
    claimed_at: float = 0.0


class HostAllocationSpec(Model):
    allocations: dict[str, Allocation] = Field(default_factory=dict)


class HostAllocation(Resource):
    """The scheduler's claims on one host (name = host name); agents do not watch it."""

    KIND = cm.HOST_ALLOCATION
    spec: HostAllocationSpec = Field(default_factory=HostAllocationSpec)


class LeaseSpec(Model):
    holder_identity: str = ""
    renew_time: float = 0.0
    lease_duration_seconds: float = cm.LEASE_SECONDS


class Lease(Resource):
    KIND = cm.LEASE
    spec: LeaseSpec = Field(default_factory=LeaseSpec)


class FlavorSpec(FlavorSize):
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None
    projects: list[str] = Field(default_factory=list)


class Flavor(Resource):
    KIND = cm.FLAVOR
    spec: FlavorSpec = Field(default_factory=FlavorSpec)


class KeypairSpec(Model):
    name: str = ""
    user_id: str = ""
    public_key: str = ""
    fingerprint: str = ""
    type: str = "ssh"


class Keypair(Resource):
    KIND = cm.KEYPAIR
    spec: KeypairSpec = Field(default_factory=KeypairSpec)


class ServerGroupSpec(Model):
    name: str = ""
    policy: str = ""
    rules: Obj = Field(default_factory=dict)
    user_id: str | None = None


class ServerGroup(Resource):
    KIND = cm.SERVER_GROUP
    spec: ServerGroupSpec = Field(default_factory=ServerGroupSpec)


class InstanceActionSpec(Model):
    server: str = ""
    action: str = ""
    request_id: str = ""
    user_id: str | None = None
    project_id: str | None = None
    start_time: str | None = None
    message: str | None = None


class InstanceAction(Resource):
    KIND = cm.INSTANCE_ACTION
    spec: InstanceActionSpec = Field(default_factory=InstanceActionSpec)


class ConsoleLogSpec(Model):
    text: str = ""
    updated: str | None = None


class ConsoleLog(Resource):
    KIND = cm.CONSOLE_LOG
    spec: ConsoleLogSpec = Field(default_factory=ConsoleLogSpec)


class QuotaSet(Resource):
    """Per-project overrides of one service's quota defaults: every value a count (-1 = no limit)."""

    KIND = cm.QUOTA_SET
    spec: dict[str, int] = Field(default_factory=dict)


class QuotaUsageSpec(Model):
    used: dict[str, int] = Field(default_factory=dict)
    excess: dict[str, int] = Field(default_factory=dict)  # over the claims' sum last pass


class QuotaUsage(Resource):
    """A project's counted usage of one service (name "compute" or "network"): kumo's own."""

    KIND = cm.QUOTA_USAGE
    spec: QuotaUsageSpec = Field(default_factory=QuotaUsageSpec)


class QuotaClaimSpec(Model):
    d: dict[str, int] = Field(default_factory=dict)
    at: float = 0.0


class QuotaClaim(Resource):
    """One counted object's share of its project's usage (``<service>.<object name>``)."""

    KIND = cm.QUOTA_CLAIM
    spec: QuotaClaimSpec = Field(default_factory=QuotaClaimSpec)
