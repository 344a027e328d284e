"""Connections a removed security group rule had admitted, ended as Neutron ends them.

The tables are stateful: ``ct state established`` keeps a connection going after the
rule that admitted it is gone. Neutron deletes the conntrack entries such a rule
matched; so does this module, through conntrack netlink (pyroute2), in the port's
zone (its bridge's), for the port's addresses, the rule's protocol, destination ports
and remote prefix (a remote group is not narrowed: every entry otherwise matching
goes; one still allowed by another rule is picked up again by the next packet, as
conntrack accepts mid-stream TCP). IPv4 only for now.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .nftables_render import SgRule, protocol_number


def _in(addr: str, nets: list[Any]) -> bool:
    ip = ipaddress.ip_address(addr)
    return any(ip in n for n in nets)


def matches(rule: SgRule, ips: list[Any], saddr: str, daddr: str, proto: int,
            dport: int | None) -> bool:
    """Would ``rule`` (on a port with addresses ``ips``) have admitted this connection?"""
    if rule.ethertype != "IPv4":
        return False
    mine, theirs = (daddr, saddr) if rule.direction == "ingress" else (saddr, daddr)
    if not _in(mine, ips):
        return False
    if rule.remote_prefix and not _in(theirs, [ipaddress.ip_network(rule.remote_prefix)]):
        return False
    want = protocol_number(rule.protocol)
    if want is not None and want != proto:
        return False
    if want in (6, 17, 33, 132, 136) and rule.port_min is not None and dport is not None:
        hi = rule.port_max if rule.port_max is not None else rule.port_min
        return rule.port_min <= dport <= hi
    return True


def flush(zone: int, work: list[tuple[SgRule, tuple[str, ...]]]) -> int:
    """Delete the entries of ``zone`` that any (rule, port addresses) pair matches; runs
    in the firewall's namespace (the caller's thread). Returns how many went."""
    from pyroute2 import Conntrack
    from pyroute2.netlink.exceptions import NetlinkError

    plans = [(rule, [ipaddress.ip_network(a, strict=False) for a in ips]) for rule, ips in work]
    gone = 0
    ct = Conntrack()
    try:
        for entry in list(ct.dump_entries(zone=zone)):
            t = entry.tuple_orig
            if t is None or t.saddr is None or ":" in str(t.saddr):
                continue
            dport = getattr(t, "dport", None)
            if any(matches(rule, ips, str(t.saddr), str(t.daddr), int(t.proto or 0), dport)
                   for rule, ips in plans):
                try:
                    ct.entry("del", tuple_orig=t, zone=zone)
                    gone += 1
                except (OSError, NetlinkError):
                    pass  # gone already (timed out or closed meanwhile)
    finally:
        ct.close()
    return gone
