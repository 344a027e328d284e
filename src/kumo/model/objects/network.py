"""Network kinds: Network, Subnet, Port, security groups and the allocation records
(field owners: ``kumo.model.network``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kumo.model import network as nm
from kumo.model.base import Model, Named, Resource

Obj = dict[str, Any]


class NetworkSpec(Named):
    admin_state_up: bool = True
    shared: bool = False
    mtu: int = nm.VXLAN_MTU
    network_type: str = "vxlan"
    segmentation_id: int | None = None
    port_security_enabled: bool = True
    external: bool = False
    availability_zone_hints: list[str] = Field(default_factory=list)
    dns_domain: str = ""  # Neutron dns-integration (an FQDN, trailing dot)


class Network(Resource):
    KIND = nm.NETWORK
    spec: NetworkSpec = Field(default_factory=NetworkSpec)
    status: Obj = Field(default_factory=dict)


class Pool(Model):
    start: str
    end: str


class Route(Model):
    destination: str
    nexthop: str


class SubnetSpec(Named):
    network_id: str = ""
    ip_version: int = 4
    cidr: str = ""
    gateway_ip: str | None = None
    allocation_pools: list[Pool] = Field(default_factory=list)
    dns_nameservers: list[str] = Field(default_factory=list)
    host_routes: list[Route] = Field(default_factory=list)
    enable_dhcp: bool = True
    subnetpool_id: str | None = None


class Subnet(Resource):
    KIND = nm.SUBNET
    spec: SubnetSpec = Field(default_factory=SubnetSpec)


class SubnetPoolSpec(Named):
    prefixes: list[str] = Field(default_factory=list)
    default_prefixlen: int = 8
    min_prefixlen: int = 8
    max_prefixlen: int = 32
    shared: bool = False
    is_default: bool = False
    address_scope_id: str | None = None


class SubnetPool(Resource):
    KIND = nm.SUBNET_POOL
    spec: SubnetPoolSpec = Field(default_factory=SubnetPoolSpec)


class AddressScopeSpec(Named):
    shared: bool = False
    ip_version: int = 4


class AddressScope(Resource):
    KIND = nm.ADDRESS_SCOPE
    spec: AddressScopeSpec = Field(default_factory=AddressScopeSpec)


class RbacPolicySpec(Model):
    object_type: str = "network"
    object_id: str = ""
    action: str = "access_as_shared"
    target_project: str = "*"


class RbacPolicy(Resource):
    KIND = nm.RBAC_POLICY
    spec: RbacPolicySpec = Field(default_factory=RbacPolicySpec)


class FixedIp(Model):
    subnet_id: str
    ip_address: str


class AddressPair(Model):
    ip_address: str
    mac_address: str | None = None


class PortSpec(Named):
    network_id: str = ""
    mac_address: str = ""
    fixed_ips: list[FixedIp] = Field(default_factory=list)
    device_id: str = ""
    device_owner: str = ""
    admin_state_up: bool = True
    security_groups: list[str] = Field(default_factory=list)
    allowed_address_pairs: list[AddressPair] = Field(default_factory=list)
    port_security_enabled: bool = True
    auto_delete: bool = False
    binding_host_id: str | None = None
    dns_name: str = ""  # Neutron dns-integration (a host name)


class PortStatus(Model):
    status: str = "DOWN"
    plugged_host: str | None = None
    plugged_at: str | None = None
    vif_type: str | None = None


class Port(Resource):
    KIND = nm.PORT
    spec: PortSpec = Field(default_factory=PortSpec)
    status: PortStatus = Field(default_factory=PortStatus)


class SecurityGroupSpec(Named):
    stateful: bool = True


class SecurityGroup(Resource):
    KIND = nm.SECURITY_GROUP
    spec: SecurityGroupSpec = Field(default_factory=SecurityGroupSpec)


class SecurityGroupRuleSpec(Model):
    security_group_id: str = ""
    direction: str = "ingress"
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    remote_address_group_id: str | None = None
    description: str | None = None


class SecurityGroupRule(Resource):
    KIND = nm.SECURITY_GROUP_RULE
    spec: SecurityGroupRuleSpec = Field(default_factory=SecurityGroupRuleSpec)


class AllocationSpec(Model):
    """Who holds an address: the port (and its project)."""

    network_id: str = ""
    port_id: str
    project: str = ""


class IPAllocationSpec(AllocationSpec):
    subnet_id: str
    ip_address: str


class IPAllocation(Resource):
    """One fixed IP: creating it is the claim (the store refuses a second create)."""

    KIND = nm.IP_ALLOCATION
    spec: IPAllocationSpec


class MacAllocationSpec(AllocationSpec):
    mac_address: str


class MacAllocation(Resource):
    KIND = nm.MAC_ALLOCATION
    spec: MacAllocationSpec


class SegmentAllocationSpec(Model):
    network_id: str
    project: str = ""


class SegmentAllocation(Resource):
    KIND = nm.SEGMENT_ALLOCATION
    spec: SegmentAllocationSpec
