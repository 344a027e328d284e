"""Network kinds: Network, Subnet, Port, SecurityGroup, SecurityGroupRule and the
allocation records that make IPAM race-free — and who owns which field.

All tenant kinds are namespaced by project and named by their Neutron uuid.
Labels carry the relations agents and the facade select on. The rules (IPAM, the
port lifecycle) are kumo.core's: core/ipam.py, core/ports.py.

Network (namespaced)
  spec   facade: {name, description, adminStateUp, shared, mtu (1450 on VXLAN),
                  networkType ("vxlan"), segmentationId (VNI), portSecurityEnabled,
                  external (router:external: admins only; label kumo.io/external=true), tags[],
                  availabilityZoneHints[]}
  status facade: {status "ACTIVE"}
  labels kumo.io/shared=true when shared (so other projects can list it cheaply)

Subnet (namespaced)
  spec   facade: {name, description, networkId, ipVersion 4, cidr, gatewayIp|null,
                  allocationPools[{start,end}], dnsNameservers[],
                  hostRoutes[{destination,nexthop}], enableDhcp, tags[]}
  labels kumo.io/network=<network id>

Port (namespaced)
  spec   facade: {name, description, networkId, macAddress,
                  fixedIps[{subnetId, ipAddress}], deviceId, deviceOwner, adminStateUp,
                  securityGroups[], allowedAddressPairs[{ipAddress, macAddress}],
                  portSecurityEnabled, tags[], autoDelete (created by compute for a
                  server: deleted with it)}
         binding (agent, DHCP scheduler, or an admin's binding:host_id): {bindingHostId}
  status agent: {status "DOWN"|"BUILD"|"ACTIVE", pluggedHost, pluggedAt, vifType}
  labels kumo.io/network=<network id>, kumo.io/device=<device id> when bound to a
         device, kumo.io/host=<host> when bound to a host (agents watch by it),
         kumo.io/owner=<device owner with ':' → '.'>

IPAllocation (cluster, name = "<subnet id>.<ip>"): one per fixed IP. Creating it is
  the claim: the store refuses a second create of the same name, so no two ports
  ever hold one address, whatever the concurrency (kumo.core.ipam). A record whose
  port does not exist (a crash between claim and port write) or no longer holds it
  is deleted after a grace period by control/allocations.py.
  spec {subnetId, networkId, ipAddress, portId, project}; labels kumo.io/subnet,
  kumo.io/network (so a network's leftovers are found in one list)
MacAllocation (cluster, name = "<network id>.<mac with - for :>"): same for MACs.
  spec {networkId, macAddress, portId, project}; labels kumo.io/network
SegmentAllocation (cluster, name = "vxlan.<vni>"): the network holding a VNI.
  spec {networkId, project}

SecurityGroup (namespaced): spec {name, description, stateful, tags[]}.
  The project's default group is named uuid5(project) so it is created exactly once.
SecurityGroupRule (namespaced): spec {securityGroupId, direction, ethertype,
  protocol, portRangeMin, portRangeMax, remoteIpPrefix, remoteGroupId,
  remoteAddressGroupId, description}; labels kumo.io/security-group=<group id>
QuotaSet name "network" (namespaced): spec {network, subnet, port, security_group,
  security_group_rule, router, floatingip} overrides of the defaults.

Router (namespaced): spec (facade) {name, description, adminStateUp, tags[],
  externalGateway {networkId, enableSnat, externalFixedIps[{subnetId, ipAddress}]}|null,
  routes[{destination, nexthop}]}; spec.host + label kumo.io/host (router scheduler,
  control/routers.py); status (that host's agent) {status "ACTIVE"|"DOWN"|"ERROR", host}.
  Its legs are Ports with deviceId = router id: deviceOwner network:router_interface
  (the subnet's gateway IP) and network:router_gateway (on the external network).
FloatingIP (namespaced): spec (facade) {floatingNetworkId, floatingIpAddress,
  floatingSubnetId, portId|null, fixedIpAddress|null, routerId|null, fipPortId,
  description, tags[]}; label kumo.io/router=<router id> when associated; status
  (the router's host agent) {status "DOWN"|"ACTIVE"}. Its address is held by a Port
  (deviceOwner network:floatingip, deviceId = the FIP id, never bound to a host).

SubnetPool (namespaced): spec (facade) {name, description, prefixes[] (IPv4 CIDRs, collapsed),
  defaultPrefixlen, minPrefixlen, maxPrefixlen, shared, isDefault, addressScopeId|null,
  tags[]}; label kumo.io/shared=true when shared. Subnets made from it carry
  spec.subnetpoolId and label kumo.io/subnetpool=<pool id> (kumo.core.subnetpools).
AddressScope (namespaced): spec (facade) {name, shared, ipVersion 4}; label
  kumo.io/shared=true when shared. Pools in one scope never overlap (kumo.core.subnetpools).
RbacPolicy (namespaced, in the sharing project): spec (facade) {objectType "network",
  objectId, action "access_as_shared", targetProject (a project id or "*")}; the network
  carries label rbac.kumo.io/<project>=true (or rbac.kumo.io/all) while a policy shares
  it, so a target project lists and uses it cheaply (kumo.core.rbac).

DHCP: the DHCP controller (control/dhcp.py) keeps one port per DHCP-enabled network
with deviceOwner "network:dhcp", deviceId "dhcp-<network id>", bound to one live
host; that host's agent runs dnsmasq and the metadata proxy in a namespace on it.
"""

from __future__ import annotations

import uuid

from .registry import KindInfo, register

NETWORK = "Network"
SUBNET = "Subnet"
PORT = "Port"
SECURITY_GROUP = "SecurityGroup"
SECURITY_GROUP_RULE = "SecurityGroupRule"
IP_ALLOCATION = "IPAllocation"
MAC_ALLOCATION = "MacAllocation"
SEGMENT_ALLOCATION = "SegmentAllocation"
ROUTER = "Router"
FLOATING_IP = "FloatingIP"
SUBNET_POOL = "SubnetPool"
ADDRESS_SCOPE = "AddressScope"
RBAC_POLICY = "RbacPolicy"

NETWORK_LABEL = "kumo.io/network"
SUBNET_LABEL = "kumo.io/subnet"
DEVICE_LABEL = "kumo.io/device"
OWNER_LABEL = "kumo.io/owner"
SHARED_LABEL = "kumo.io/shared"
SG_LABEL = "kumo.io/security-group"
ROUTER_LABEL = "kumo.io/router"
SUBNETPOOL_LABEL = "kumo.io/subnetpool"
EXTERNAL_LABEL = "kumo.io/external"  # external networks: every project may list them

DHCP_OWNER = "network:dhcp"
COMPUTE_OWNER_PREFIX = "compute:"
ROUTER_INTERFACE_OWNER = "network:router_interface"
ROUTER_GATEWAY_OWNER = "network:router_gateway"
FLOATING_IP_OWNER = "network:floatingip"
ROUTER_OWNERS = (ROUTER_INTERFACE_OWNER, ROUTER_GATEWAY_OWNER)
VXLAN_MTU = 1450  # 1500 underlay minus the 50-byte VXLAN header
VNI_MIN, VNI_MAX = 1, 16_000_000
METADATA_IP = "169.254.169.254"
ANN_UPDATED = "network.kumo.io/updated-at"  # Neutron's updated_at (creation until changed)
QUOTA_NAME = "network"  # the QuotaSet of a project's Neutron limits
QUOTA_DEFAULTS: dict[str, int] = {
    "network": 100, "subnet": 100, "port": 500, "security_group": 10,
    "security_group_rule": 100, "router": 10, "floatingip": 50,
}
QUOTA_KINDS = {"network": NETWORK, "subnet": SUBNET, "port": PORT,
               "security_group": SECURITY_GROUP, "security_group_rule": SECURITY_GROUP_RULE,
               "router": ROUTER, "floatingip": FLOATING_IP}

_DEFAULT_SG_NS = uuid.UUID("6f2d3c1e-7a43-4a57-9a77-2f1f6b0e5c11")

register(KindInfo(NETWORK, "networks", namespaced=True, short_names=("net",)))
register(KindInfo(SUBNET, "subnets", namespaced=True))
register(KindInfo(PORT, "ports", namespaced=True))
register(KindInfo(SECURITY_GROUP, "securitygroups", namespaced=True, short_names=("sg",)))
register(KindInfo(SECURITY_GROUP_RULE, "securitygrouprules", namespaced=True))
register(KindInfo(ROUTER, "routers", namespaced=True))
register(KindInfo(FLOATING_IP, "floatingips", namespaced=True, short_names=("fip",)))
register(KindInfo(SUBNET_POOL, "subnetpools", namespaced=True))
register(KindInfo(ADDRESS_SCOPE, "addressscopes", namespaced=True))
register(KindInfo(RBAC_POLICY, "rbacpolicies", namespaced=True))
register(KindInfo(IP_ALLOCATION, "ipallocations", namespaced=False, admin_only=True))
register(KindInfo(MAC_ALLOCATION, "macallocations", namespaced=False, admin_only=True))
register(KindInfo(SEGMENT_ALLOCATION, "segmentallocations", namespaced=False, admin_only=True))


def default_security_group_id(project: str) -> str:
    """The project's default group id: derived, so concurrent first requests agree."""
    return str(uuid.uuid5(_DEFAULT_SG_NS, project))


def ip_allocation_name(subnet_id: str, ip: str) -> str:
    return f"{subnet_id}.{ip}"


def mac_allocation_name(network_id: str, mac: str) -> str:
    return f"{network_id}.{mac.lower().replace(':', '-')}"


def owner_label(device_owner: str) -> str:
    """Label values cannot hold ':'; 'compute:nova' → 'compute.nova'."""
    return device_owner.replace(":", ".")[:63]


def dhcp_device_id(network_id: str) -> str:
    return f"dhcp-{network_id}"


def bridge_name(vni: int) -> str:
    """Per host and network: the bridge the taps, the VXLAN device and DHCP plug into."""
    return f"kbr-{int(vni)}"


def vxlan_name(vni: int) -> str:
    return f"kvx-{int(vni)}"


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def dhcp_netns(network_id: str) -> str:
    return f"qdhcp-{network_id}"


def dhcp_ns_ifname(port_id: str) -> str:
    return "ns-" + port_id[:11]


def router_netns(router_id: str) -> str:
    """Per router, on the host it is bound to: its legs, forwarding and NAT."""
    return f"qrouter-{router_id}"


def router_leg_ifname(port_id: str, owner: str) -> str:
    """The router's end of a leg: ``qg-`` on the external network, ``qr-`` inside."""
    return ("qg-" if owner == ROUTER_GATEWAY_OWNER else "qr-") + port_id[:11]
