"""What a port create or update asks for (``PortRequest``, ``PortUpdate``, ``FixedIp``)
and the checks it passes before anything is claimed: which network
the actor may use, which addresses a fixed-IP request means, who may pick addresses,
MACs and owners, which security groups a port gets. Pure reads; no writes but the
project's default security group (made once, on first use)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kumo import store
from kumo.model import network as nm

from . import ipam, rbac
from .actor import Actor
from .errors import Conflict, Forbidden, Invalid, NotFound
from .secgroups import ensure_default, resolve_groups

Obj = dict[str, Any]
Plan = list[tuple[Obj, str | None, bool]]  # (subnet, ip, already held by the port)


@dataclass
class FixedIp:
    """One fixed-IP request: a subnet, an address, or both (the address normalised)."""

    subnet_id: str | None = None
    ip_address: str | None = None


@dataclass
class PortRequest:
    """A new port, parsed by its face. ``None`` means "the default" where noted."""

    network_id: str
    project: str
    name: str = ""
    description: str = ""
    device_id: str = ""
    device_owner: str = ""
    admin_state_up: bool = True
    mac_address: str | None = None  # normalised (ipam.normalise_mac); None: random
    fixed_ips: list[FixedIp] | None = None  # None: one address of the first subnet with room
    security_groups: list[str] | None = None  # None: the project's default (port security on)
    allowed_address_pairs: list[Obj] = field(default_factory=list)
    port_security_enabled: bool | None = None  # None: the network's setting
    tags: list[str] = field(default_factory=list)
    binding_host_id: str | None = None
    auto_delete: bool = False  # made for a server: goes with it
    port_id: str | None = None  # kumo's own ports only: a deterministic id (None: random)
    dns_name: str = ""  # dns-integration (checked by core.dns_neutron.check_dns_name)


@dataclass
class PortUpdate:
    """Changes to a port: ``spec`` holds plain fields (name, description, deviceId,
    deviceOwner, adminStateUp, bindingHostId, portSecurityEnabled, allowedAddressPairs)
    as stored; groups and fixed IPs are resolved and claimed by the core."""

    spec: Obj = field(default_factory=dict)
    security_groups: list[str] | None = None
    fixed_ips: list[FixedIp] | None = None


def network_gone(net_id: str) -> NotFound:
    return NotFound(f"Network {net_id} could not be found.", code="NetworkNotFound",
                    kind=nm.NETWORK, ident=net_id)


def port_not_found(port_id: str) -> NotFound:
    return NotFound(f"Port {port_id} could not be found.", code="PortNotFound",
                    kind=nm.PORT, ident=port_id)


def _policy(rule: str) -> Forbidden:
    return Forbidden(f"rule:{rule} is disallowed by policy", rule=rule)


async def find_network(objects: store.ObjectStore, actor: Actor, net_id: str) -> Obj:
    """A network the actor can use (own, shared, or any for admins), or NotFound."""
    net = await objects.try_get(nm.NETWORK, actor.project_id or "", net_id)
    if net is None:
        if actor.is_admin:
            net = next((n for n in (await objects.list(nm.NETWORK, None)).items
                        if n["metadata"]["name"] == net_id), None)
        else:
            shared = await objects.list(nm.NETWORK, None,
                                        label_selector=f"{nm.SHARED_LABEL}=true")
            net = next((n for n in shared.items + await rbac.shared_with(
                objects, actor.project_id or "") if n["metadata"]["name"] == net_id), None)
    if net is None or net["metadata"].get("deletionTimestamp"):
        raise network_gone(net_id)
    return net


async def subnets_of(objects: store.ObjectStore, net_id: str) -> list[Obj]:
    """The network's subnets, oldest first (automatic addresses come from the first)."""
    found = await objects.list(nm.SUBNET, None, label_selector=f"{nm.NETWORK_LABEL}={net_id}")
    return sorted(found.items, key=lambda s: (s["metadata"].get("creationTimestamp", ""),
                                              s["metadata"]["name"]))


def _owns(actor: Actor, net: Obj) -> bool:
    return actor.is_admin or net["metadata"]["namespace"] == actor.project_id


def check_create_policy(actor: Actor, net: Obj, req: PortRequest) -> None:
    """Only the network's owner (or an admin) picks a network:* owner or a MAC."""
    if req.device_owner.startswith("network:") and not _owns(actor, net):
        raise _policy("create_port:device_owner")
    if req.mac_address is not None and not _owns(actor, net):
        raise _policy("create_port:mac_address")


def check_fixed_ip_policy(actor: Actor, net: Obj, wanted: list[tuple[Obj, str | None]]) -> None:
    if any(ip is not None for _, ip in wanted) and not _owns(actor, net):
        raise _policy("create_port:fixed_ips:ip_address")


def _subnet_for(entry: FixedIp, by_id: dict[str, Obj], subnets: list[Obj], net_id: str) -> Obj:
    sid, ip = entry.subnet_id, entry.ip_address
    addr = ipaddress.ip_address(ip) if ip is not None else None
    if sid is not None:
        sub = by_id.get(str(sid))
        if sub is None:
            raise Invalid(f"Failed to create port on network {net_id}, because fixed_ips "
                          f"included invalid subnet {sid}.", code="InvalidInput")
        if ip is not None and (addr is None or addr.version != 4
                               or not ipam.valid_for_subnet(sub, ip)):
            raise Invalid(f"IP address {ip} is not a valid IP for the specified subnet.",
                          code="InvalidIpForSubnet")
        return sub
    if ip is None:
        raise Invalid("Invalid input for fixed_ips. Reason: each entry needs subnet_id or "
                      "ip_address.", code="InvalidInput")
    found = next((s for s in subnets if addr is not None and addr.version == 4
                  and ipam.valid_for_subnet(s, ip)), None)
    if found is None:
        raise Invalid(f"IP address {ip} is not a valid IP for any of the subnets on the "
                      "specified network.", code="InvalidIpForNetwork")
    return found


def resolve_fixed_ips(wanted: list[FixedIp], subnets: list[Obj], net_id: str
                      ) -> list[tuple[Obj, str | None]]:
    """[(subnet, ip or None)] for a fixed-IP request, checked against the network."""
    by_id = {s["metadata"]["name"]: s for s in subnets}
    out: list[tuple[Obj, str | None]] = []
    for entry in wanted:
        sub = _subnet_for(entry, by_id, subnets, net_id)
        ip = entry.ip_address
        if ip is not None and any(s is sub and i == ip for s, i in out):
            raise Invalid(f"Duplicate IP address '{ip}'.", code="InvalidInput")
        out.append((sub, ip))
    return out


def plan_fixed_ips(wanted: list[tuple[Obj, str | None]], held: list[tuple[str, str]]) -> Plan:
    """What an update's fixed IPs mean for a port holding ``held``: exact addresses it
    holds are kept, a subnet-only request keeps one it holds there, the rest is claimed."""
    free_held = list(held)
    plan: Plan = []
    for sub, ip in wanted:
        sid = sub["metadata"]["name"]
        if ip is not None and (sid, ip) in free_held:
            free_held.remove((sid, ip))
            plan.append((sub, ip, True))
    for sub, ip in wanted:
        sid = sub["metadata"]["name"]
        if ip is None:
            keep = next(((s, i) for s, i in free_held if s == sid), None)
            if keep is not None:
                free_held.remove(keep)
                plan.append((sub, keep[1], True))
            else:
                plan.append((sub, None, False))
        elif not any(p[0] is sub and p[1] == ip and p[2] for p in plan):
            plan.append((sub, ip, False))
    return plan


async def create_groups(objects: store.ObjectStore, actor: Actor, req: PortRequest,
                        port_security: bool) -> list[str]:
    """A new port's security groups: the asked ones, or the project's default; and the
    port-security rules that go with them and with allowed address pairs."""
    if req.security_groups is not None:
        groups = await resolve_groups(objects, req.project, req.security_groups)
    elif port_security and not actor.system:
        groups = [await ensure_default(objects, req.project)]
    else:
        groups = []
    if groups and not port_security:
        raise Invalid("Port security must be enabled and port must have an IP address in "
                      "order to use security groups.",
                      code="PortSecurityAndIPRequiredForSecurityGroups")
    if req.allowed_address_pairs and not port_security:
        raise Conflict("Port Security must be enabled in order to have allowed address pairs "
                       "on a port.", code="AddressPairAndPortSecurityRequired")
    return groups
