"""Security groups as nftables text: the desired ruleset's types and how each piece reads.

Two tables per host, ``bridge kumo_sg`` and ``inet kumo_sg``. The kernel here has no
bridge conntrack, so the stateful part lives in the inet family (bridged IP packets
reach it through br_netfilter) and the bridge family says which port a frame came
from and goes to by setting bits of the packet mark:

    bridge kumo_sg  forward -200: iifname vmap @pout → o-<tap>: anti-spoofing (MAC, ARP,
                    IPv4/IPv6 source), kvm-out: no DHCP server replies or router
                    advertisements from a VM; then mark bits 0-13 = the port's index.
                    oifname vmap @pin → i-<tap>: mark bits 14-27 = the port's index.
    inet kumo_sg    forward 0: mark & 0x3fff vmap @pe → o-<tap>: jump kvm-egress (ct
                    established/related accept, invalid drop, DHCP, neighbour discovery),
                    jump ge-<group>… then drop.
                    forward 1: mark & 0xfffc000 vmap @pi → i-<tap>: same with gi-<group>.
                    ge-/gi-<group>: the group's rules, each ending in accept.
                    r4-/r6-<group>: the member addresses of a group that rules name as
                    remote group (hash sets; r4n-/r6n- interval sets when a member has a
                    prefix), updated element by element.

Ports without port security have no map entry: nothing of theirs is filtered. Every
chain's last rule carries ``comment "k:<hash of the chain>"`` so a verification pass
can tell a chain that someone edited by hand from the one we programmed.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

TABLE = "kumo_sg"
IDX_BITS = 14
MAX_PORTS = (1 << IDX_BITS) - 1
EGRESS_MASK = 0x3FFF
INGRESS_MASK = EGRESS_MASK << IDX_BITS
KEEP_OUT = 0xF0000000  # mark bits that are not ours, kept on frames from a VM
KEEP_IN = KEEP_OUT | EGRESS_MASK
PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58,
             "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
             "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113,
             "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112}
_PORTED = {6, 17, 33, 132, 136}


@dataclass(frozen=True)
class SgRule:
    """One security group rule as the firewall needs it (Neutron's fields)."""
    direction: str  # ingress | egress
    ethertype: str  # IPv4 | IPv6
    protocol: str | None = None  # a name or a number as text; None = any
    port_min: int | None = None  # ports, or the ICMP type
    port_max: int | None = None  # ports, or the ICMP code
    remote_prefix: str | None = None
    remote_group: str | None = None


@dataclass(frozen=True)
class PortFilter:
    """A port with port security on this host: who it may claim to be, its groups."""
    tap: str
    macs: tuple[str, ...]
    ips4: tuple[str, ...]  # addresses or prefixes it may send from (allowed pairs too)
    ips6: tuple[str, ...]
    groups: tuple[str, ...]
    bridge: str = ""  # its network's bridge: the conntrack zone of the port's traffic


@dataclass
class Ruleset:
    ports: dict[str, PortFilter]  # tap -> filter
    groups: dict[str, tuple[SgRule, ...]]  # group id -> its rules
    remote: dict[str, tuple[frozenset[str], frozenset[str]]]  # group -> (v4, v6) members

    def rule_count(self) -> int:
        """Security group rules programmed once per group (ports share a group's chain)."""
        return sum(len(r) for r in self.groups.values())

    def element_count(self) -> int:
        return sum(len(v4) + len(v6) for v4, v6 in self.remote.values())


def protocol_number(protocol: str | None) -> int | None:
    if protocol is None or protocol in ("", "any"):
        return None
    text = str(protocol).lower()
    return PROTOCOLS[text] if text in PROTOCOLS else int(text)


def collapse(addrs: list[str] | tuple[str, ...] | frozenset[str], version: int) -> list[str]:
    """Addresses and prefixes as non-overlapping set elements (an interval set refuses
    overlaps); host prefixes written bare, as nft lists them."""
    nets = [ipaddress.ip_network(a, strict=False) for a in addrs]
    out = []
    for net in ipaddress.collapse_addresses(n for n in nets if n.version == version):
        full = net.prefixlen == net.max_prefixlen
        out.append(str(net.network_address) if full else str(net))
    return out


def chain_hash(lines: list[str]) -> str:
    return hashlib.sha1("\n".join(lines).encode()).hexdigest()[:12]


def sealed(lines: list[str], last: str) -> list[str]:
    """The chain's rules with the final rule carrying the chain's hash."""
    return [*lines, f'{last} comment "k:{chain_hash([*lines, last])}"']


def _elements(items: list[str]) -> str:
    """One value as itself, several as an anonymous set (a kernel object per rule)."""
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _icmp(rule: SgRule, v6: bool) -> list[str]:
    word = "icmpv6" if v6 else "icmp"
    out = [f"meta l4proto {'ipv6-icmp' if v6 else 'icmp'}"]
    if rule.port_min is not None:
        out.append(f"{word} type {rule.port_min}")
        if rule.port_max is not None:
            out.append(f"{word} code {rule.port_max}")
    return out


def set_name(gid: str, version: int, hosts_only: bool) -> str:
    """A remote group's set: a plain hash set of addresses, or — only when a member
    brings a prefix (an allowed address pair with a CIDR) — an interval set. Interval
    sets make every element change fetch all interval sets' elements first (nft's
    overlap check), so the common case avoids them."""
    return f"r{version}{'' if hosts_only else 'n'}-{gid}"


def rule_line(rule: SgRule, sets: dict[tuple[str, int], str] | None = None) -> str:
    """One Neutron rule as one nft rule (in the group's ingress or egress chain)."""
    v6 = rule.ethertype == "IPv6"
    ip = "ip6" if v6 else "ip"
    parts = [f"meta nfproto {'ipv6' if v6 else 'ipv4'}"]
    side = "saddr" if rule.direction == "ingress" else "daddr"
    if rule.remote_prefix and ipaddress.ip_network(rule.remote_prefix).prefixlen:
        parts.append(f"{ip} {side} {rule.remote_prefix}")
    if rule.remote_group:
        version = 6 if v6 else 4
        name = (sets or {}).get((rule.remote_group, version)) or \
            set_name(rule.remote_group, version, True)
        parts.append(f"{ip} {side} @{name}")
    proto = protocol_number(rule.protocol)
    if proto in (1, 58):
        parts += _icmp(rule, v6)
    elif proto is not None:
        parts.append(f"meta l4proto {proto}")
        if proto in _PORTED and rule.port_min is not None:
            hi = rule.port_max if rule.port_max is not None else rule.port_min
            ports = str(rule.port_min) if hi == rule.port_min else f"{rule.port_min}-{hi}"
            parts.append(f"th dport {ports}")
    return " ".join([*parts, "accept"])


def group_chain(rules: tuple[SgRule, ...], direction: str,
                sets: dict[tuple[str, int], str] | None = None) -> list[str]:
    lines = [rule_line(r, sets) for r in rules if r.direction == direction]
    return sealed(lines, "return")


def bridge_out_chain(p: PortFilter, index: int) -> list[str]:
    """Frames from the VM: anti-spoofing, then the port's index into the mark. DHCP
    discovery (from 0.0.0.0) and ARP probes leave before the mark: nothing filters them."""
    macs = _elements(sorted({m.lower() for m in p.macs}))
    ips4 = _elements(collapse(p.ips4, 4) or ["255.255.255.255"])
    lines = [f"ether saddr != {macs} drop",
             "jump kvm-out",
             f"ether type arp arp saddr ether != {macs} drop",
             "ether type arp arp saddr ip 0.0.0.0 accept",
             f"ether type arp arp saddr ip != {ips4} drop",
             "ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 return",
             f"ether type ip ip saddr != {ips4} drop"]
    ips6 = collapse(p.ips6, 6)
    if ips6:
        lines.append(f"ether type ip6 ip6 saddr != {_elements(['::', 'fe80::/10', *ips6])} "
                     "drop")
    else:
        lines.append("ether type ip6 ip6 saddr != fe80::/10 ip6 saddr != :: drop")
    return sealed(lines, f"meta mark set meta mark and {KEEP_OUT:#x} or {index:#x}")


def bridge_in_chain(index: int) -> list[str]:
    return sealed([], f"meta mark set meta mark and {KEEP_IN:#x} or {index << IDX_BITS:#x}")


def inet_port_chain(p: PortFilter, direction: str) -> list[str]:
    """The port's stateful chain: the shared part (established traffic, DHCP, neighbour
    discovery), then each of its groups' chains, then drop."""
    prefix = "ge" if direction == "egress" else "gi"
    lines = [f"jump kvm-{direction}", *(f"jump {prefix}-{g}" for g in p.groups)]
    return sealed(lines, "counter drop")


def set_decl(name: str, version: int) -> str:
    flags = "" if name[2] == "-" else " flags interval;"
    return f"{{ type ipv{version}_addr;{flags} }}"


def base_bridge() -> list[str]:
    return [f"add table bridge {TABLE}",
            f"add map bridge {TABLE} pout {{ type ifname : verdict; }}",
            f"add map bridge {TABLE} pin {{ type ifname : verdict; }}",
            f"add chain bridge {TABLE} kfwd {{ type filter hook forward priority -200; "
            "policy accept; }",
            f"add rule bridge {TABLE} kfwd iifname vmap @pout",
            f"add rule bridge {TABLE} kfwd oifname vmap @pin",
            f"add chain bridge {TABLE} kvm-out",  # what no VM may send
            f"add rule bridge {TABLE} kvm-out ether type ip udp sport 67 udp dport 68 drop",
            f"add rule bridge {TABLE} kvm-out ether type ip6 icmpv6 type nd-router-advert drop",
            f"add rule bridge {TABLE} kvm-out ether type ip6 udp sport 547 udp dport 546 drop"]


def base_inet() -> list[str]:
    return [f"add table inet {TABLE}",
            f"add map inet {TABLE} pe {{ type mark : verdict; }}",
            f"add map inet {TABLE} pi {{ type mark : verdict; }}",
            # one conntrack zone per bridge: equal addresses on two networks never share
            # (or spoof) each other's connection state
            f"add map inet {TABLE} zones {{ typeof iifname : ct zone; }}",
            f"add chain inet {TABLE} kzone {{ type filter hook prerouting priority raw; "
            "policy accept; }",
            f"add rule inet {TABLE} kzone ct zone set iifname map @zones",
            f"add chain inet {TABLE} kegress {{ type filter hook forward priority 0; "
            "policy accept; }",
            f'add rule inet {TABLE} kegress iifname "kbr-*" meta mark & {EGRESS_MASK:#x} '
            "vmap @pe",
            f"add chain inet {TABLE} kingress {{ type filter hook forward priority 1; "
            "policy accept; }",
            f'add rule inet {TABLE} kingress iifname "kbr-*" meta mark & {INGRESS_MASK:#x} '
            "vmap @pi",
            *_shared("egress", "meta nfproto ipv4 udp sport 68 udp dport 67 accept",
                     "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, "
                     "mld-listener-report, mld2-listener-report } accept"),
            *_shared("ingress", "meta nfproto ipv4 udp sport 67 udp dport 68 accept",
                     "icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, "
                     "mld-listener-query } accept")]


def _shared(direction: str, *lines: str) -> list[str]:
    """Every filtered port's first jump: accept what is established or always allowed
    (accept ends the port's evaluation), return for the groups to decide."""
    name = f"kvm-{direction}"
    rules = ["ct state established,related accept", "ct state invalid counter drop", *lines]
    return [f"add chain inet {TABLE} {name}", *(f"add rule inet {TABLE} {name} {x}"
                                                 for x in rules)]


BASE_RULES = {("bridge", "kfwd"): 2, ("bridge", "kvm-out"): 3, ("inet", "kzone"): 1,
              ("inet", "kegress"): 1,
              ("inet", "kingress"): 1, ("inet", "kvm-egress"): 4, ("inet", "kvm-ingress"): 4}
