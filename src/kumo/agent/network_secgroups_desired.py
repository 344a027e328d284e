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
from dataclasses import replace
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


class RuleIndex:
    """The rules by group, kept current from the rule informer's events, each group's
    converted and ordered tuple rebuilt only when one of its rules changed: a change
    among 10,000 rules costs one group's work. ``reset`` rebuilds it from a full list
    (at start and on every verification pass, so it cannot drift from the cache)."""

    def __init__(self, rules: list[Obj] | None = None) -> None:
        self.by_group: dict[str, dict[str, Obj]] = {}
        self.tuples: dict[str, tuple[SgRule, ...]] = {}
        self.size = 0
        if rules is not None:
            self.reset(rules)

    def reset(self, rules: list[Obj]) -> None:
        self.by_group, self.tuples, self.size = {}, {}, 0
        for rule in rules:
            self.event("ADDED", rule)

    def event(self, typ: str, rule: Obj) -> None:
        gid = str(rule["spec"].get("securityGroupId"))
        group = self.by_group.setdefault(gid, {})
        before = len(group)
        if typ == "DELETED":
            group.pop(rule["metadata"]["name"], None)
        else:
            group[rule["metadata"]["name"]] = rule
        self.size += len(group) - before
        self.tuples.pop(gid, None)

    def rules(self, gid: str) -> tuple[SgRule, ...]:
        hit = self.tuples.get(gid)
        if hit is None:
            group = self.by_group.get(gid, {})
            hit = self.tuples[gid] = tuple(sg_rule(group[n]) for n in sorted(group))
        return hit


def bridges_of(networks: list[Obj]) -> dict[str, str]:
    """Network id → its bridge on every host (the conntrack zone of its ports)."""
    return {n["metadata"]["name"]: nm.bridge_name(int(n["spec"]["segmentationId"]))
            for n in networks if (n.get("spec") or {}).get("segmentationId")}


def compute(host: str, ports: list[Obj], rules: list[Obj] | RuleIndex,
            memo: Memo | None = None, bridges: dict[str, str] | None = None) -> Ruleset:
    memo = memo or Memo()
    index = rules if isinstance(rules, RuleIndex) else RuleIndex(rules)
    local = [p for p in ports if (p.get("spec") or {}).get("bindingHostId") == host
             and filtered(p)]
    filters = {}
    for p in local:
        pf = memo.get("pf", p, port_filter)
        bridge = (bridges or {}).get(p["spec"].get("networkId"), "")
        filters[pf.tap] = pf if pf.bridge == bridge else replace(pf, bridge=bridge)
    used = {g for pf in filters.values() for g in pf.groups}
    groups = {g: index.rules(g) for g in used}
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
