"""What one host's firewall should hold, computed from the ports and rules it watches.

A pure function of (host, every port, every security group rule): the ports bound
here with port security on get a filter (their MAC and addresses, allowed address
pairs included, and their groups); each of their groups contributes its rules once;
each group that a rule names as remote group becomes a set of its members' addresses,
wherever those members run. Ports kumo makes for itself (``network:*`` owners: DHCP,
routers) are trusted and unfiltered, as Neutron treats them.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kumo.drivers.nftables_render import PortFilter, Ruleset, SgRule
from kumo.model import network as nm

Obj = dict[str, Any]


def filtered(port: Obj) -> bool:
    spec = port.get("spec") or {}
    return bool(spec.get("portSecurityEnabled", True)) and \
        not str(spec.get("deviceOwner") or "").startswith("network:") and \
        not port["metadata"].get("deletionTimestamp")


def addresses(port: Obj) -> tuple[list[str], list[str]]:
    """The IPv4 and IPv6 addresses (or prefixes) the port may use: fixed IPs and pairs."""
    spec = port["spec"]
    found = [f["ipAddress"] for f in spec.get("fixedIps") or [] if f.get("ipAddress")]
    found += [p["ipAddress"] for p in spec.get("allowedAddressPairs") or []
              if p.get("ipAddress")]
    v4, v6 = [], []
    for a in found:
        try:
            net = ipaddress.ip_network(a, strict=False)
        except ValueError:
            continue
        (v4 if net.version == 4 else v6).append(str(net))
    return v4, v6


def port_filter(port: Obj) -> PortFilter:
    spec = port["spec"]
    mac = str(spec["macAddress"]).lower()
    macs = {mac} | {str(p.get("macAddress") or mac).lower()
                    for p in spec.get("allowedAddressPairs") or []}
    v4, v6 = addresses(port)
    return PortFilter(tap=nm.tap_name(port["metadata"]["name"]), macs=tuple(sorted(macs)),
                      ips4=tuple(sorted(v4)), ips6=tuple(sorted(v6)),
                      groups=tuple(dict.fromkeys(spec.get("securityGroups") or [])))


def sg_rule(rule: Obj) -> SgRule:
    s = rule["spec"]
    return SgRule(direction=s["direction"], ethertype=s.get("ethertype") or "IPv4",
                  protocol=s.get("protocol"), port_min=s.get("portRangeMin"),
                  port_max=s.get("portRangeMax"), remote_prefix=s.get("remoteIpPrefix"),
                  remote_group=s.get("remoteGroupId"))


class Memo:
    """Conversions kept per object version, so a change among thousands of rules converts
    one object, not all (informer objects carry their resourceVersion)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Any] = {}
        self.seen: set[tuple[str, str, str]] = set()

    def get(self, kind: str, obj: Obj, make: Any) -> Any:
        md = obj["metadata"]
        rv = md.get("resourceVersion")
        if rv is None:
            return make(obj)
        key = (kind, md["name"], str(rv))
        self.seen.add(key)
        hit = self.items.get(key)
        if hit is None:
            hit = self.items[key] = make(obj)
        return hit

    def sweep(self) -> None:
        """Drop what the last computation did not use (old versions, deleted objects)."""
        self.items = {k: v for k, v in self.items.items() if k in self.seen}
        self.seen = set()


def compute(host: str, ports: list[Obj], rules: list[Obj], memo: Memo | None = None
            ) -> Ruleset:
    memo = memo or Memo()
    local = [p for p in ports if (p.get("spec") or {}).get("bindingHostId") == host
             and filtered(p)]
    filters = {pf.tap: pf for pf in (memo.get("pf", p, port_filter) for p in local)}
    used = {g for pf in filters.values() for g in pf.groups}
    by_group: dict[str, list[Obj]] = {g: [] for g in used}
    for rule in rules:
        gid = rule["spec"].get("securityGroupId")
        if gid in by_group:
            by_group[gid].append(rule)
    groups = {g: tuple(memo.get("rule", x, sg_rule)
                       for x in sorted(rs, key=lambda x: x["metadata"]["name"]))
              for g, rs in by_group.items()}
    wanted = {x.remote_group for rs in groups.values() for x in rs if x.remote_group}
    members: dict[str, tuple[set[str], set[str]]] = {g: (set(), set()) for g in wanted}
    for port in ports:
        if port["metadata"].get("deletionTimestamp"):
            continue
        for g in (port.get("spec") or {}).get("securityGroups") or []:
            if g in members:
                v4, v6 = memo.get("addr", port, addresses)
                members[g][0].update(v4)
                members[g][1].update(v6)
    remote = {g: (frozenset(v4), frozenset(v6)) for g, (v4, v6) in members.items()}
    memo.sweep()
    return Ruleset(ports=filters, groups=groups, remote=remote)
