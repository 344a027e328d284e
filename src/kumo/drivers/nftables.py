"""The security-group firewall on one host: desired ruleset → one nftables transaction.

``NftFirewall.apply(ruleset)`` flattens the ruleset into chains, map entries and set
elements (a ``Plan``; the text of each piece is nftables_render.py's), diffs it with
what it applied last and sends only the difference as one batch: a rule added to a
group rewrites that group's two chains, a member joining a remote group adds one set
element, a port coming or going adds or removes its chains and map entries. The first
apply, and every repair, rebuilds both tables in one batch (``add table; delete table;
…`` — atomic, so no packet ever sees a half-built firewall). ``verify`` reads the
kernel's tables back (JSON) and names every chain, map entry or set element that
differs; the agent repairs by rebuilding. ``FakeFirewall`` keeps the plan in memory.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from . import nftables_conntrack as conntrack
from . import nftables_render as r
from .nftables_lib import Nft, NftError
from .nftables_verify import Plan, compare, read_kernel

log = logging.getLogger("kumo.drivers.nftables")
Key = tuple[str, str]  # (family, chain or map name)
__all__ = ["ApplyResult", "FakeFirewall", "NftError", "NftFirewall", "Plan"]


@dataclass
class ApplyResult:
    commands: int
    seconds: float
    full: bool
    changed_groups: list[str]
    changed_ports: list[str]
    kernel_seconds: float = 0.0  # of ``seconds``: the libnftables call (cache fetch + commit)


class Indexes:
    """A small number per port for the mark; stable while the port stays."""

    def __init__(self) -> None:
        self.of: dict[str, int] = {}

    def assign(self, taps: list[str]) -> dict[str, int]:
        present = set(taps)
        for tap in [t for t in self.of if t not in present]:
            del self.of[tap]
        if len(self.of) == len(present):
            return self.of
        used = set(self.of.values())
        nxt = 1
        for tap in sorted(taps):
            if tap in self.of:
                continue
            while nxt in used:
                nxt += 1
            if nxt > r.MAX_PORTS:
                raise NftError(f"more than {r.MAX_PORTS} filtered ports on one host")
            self.of[tap] = nxt
            used.add(nxt)
        return self.of


class Renderer:
    """Chains and set elements rendered once per content: a change to one group of
    thousands re-renders that group only (equal inputs are found by identity first)."""

    def __init__(self) -> None:
        self.groups: dict[str, tuple[Any, list[str], list[str]]] = {}
        self.ports: dict[str, tuple[r.PortFilter, int, list[Any]]] = {}
        self.sets: dict[str, tuple[frozenset[str], ...]] = {}
        self.remotes: dict[str, tuple[tuple[r.SgRule, ...], set[tuple[str, int]]]] = {}
        self.names: dict[tuple[str, int], str] = {}  # the set names of the last plan

    def referenced(self, gid: str, rules: tuple[r.SgRule, ...]) -> set[tuple[str, int]]:
        """The (group, IP version) sets a group's rules name, kept per rules tuple."""
        hit = self.remotes.get(gid)
        if hit is None or hit[0] is not rules:
            hit = self.remotes[gid] = (rules, {
                (x.remote_group, 6 if x.ethertype == "IPv6" else 4)
                for x in rules if x.remote_group})
        return hit[1]

    def group(self, gid: str, rules: tuple[r.SgRule, ...], sets: dict[tuple[str, int], str],
              same_names: bool) -> tuple[list[str], list[str]]:
        hit = self.groups.get(gid)
        if hit is not None and same_names and hit[0][0] is rules:
            return hit[1], hit[2]  # nothing it depends on changed
        names = tuple(sets.get((x.remote_group, 6 if x.ethertype == "IPv6" else 4), "")
                      for x in rules if x.remote_group)
        if hit is None or hit[0] != (rules, names):
            hit = ((rules, names), r.group_chain(rules, "egress", sets),
                   r.group_chain(rules, "ingress", sets))
            self.groups[gid] = hit
        return hit[1], hit[2]

    def port(self, pf: r.PortFilter, n: int) -> list[Any]:
        """The port's four chains and its four map keys."""
        hit = self.ports.get(pf.tap)
        if hit is None or hit[1] != n or hit[0] != pf:
            tap = pf.tap
            hit = (pf, n, [r.bridge_out_chain(pf, n), r.bridge_in_chain(n),
                           r.inet_port_chain(pf, "egress"), r.inet_port_chain(pf, "ingress"),
                           f'"{tap}"', f"{n:#x}", f"{n << r.IDX_BITS:#x}",
                           ("bridge", f"o-{tap}"), ("bridge", f"i-{tap}"),
                           ("inet", f"o-{tap}"), ("inet", f"i-{tap}")])
            self.ports[pf.tap] = hit
        return hit[2]

    def members(self, gid: str, v4: frozenset[str], v6: frozenset[str]
                ) -> tuple[frozenset[str], frozenset[str]]:
        hit = self.sets.get(gid)
        if hit is None or hit[0] != v4 or hit[1] != v6:
            hit = (v4, v6, frozenset(r.collapse(v4, 4)), frozenset(r.collapse(v6, 6)))
            self.sets[gid] = hit
        return hit[2], hit[3]

    def forget(self, rs: r.Ruleset) -> None:
        for cache, keep in ((self.groups, rs.groups), (self.ports, rs.ports),
                            (self.sets, rs.remote), (self.remotes, rs.groups)):
            for k in [k for k in cache if k not in keep]:
                del cache[k]


def build_plan(rs: r.Ruleset, index: dict[str, int], cache: Renderer | None = None,
               zones: dict[str, int] | None = None) -> Plan:
    cache = cache or Renderer()
    p = Plan()
    wanted: set[tuple[str, int]] = set()
    for gid, rules in rs.groups.items():
        wanted |= cache.referenced(gid, rules)
    names: dict[tuple[str, int], str] = {}
    for gid, (v4, v6) in rs.remote.items():
        for version, elems in zip((4, 6), cache.members(gid, v4, v6), strict=True):
            if (gid, version) in wanted:
                hosts = all("/" not in e for e in elems)
                names[(gid, version)] = name = r.set_name(gid, version, hosts)
                p.sets[name] = (version, elems)
    same, cache.names = names == cache.names, names
    for gid, rules in rs.groups.items():
        p.chains[("inet", f"ge-{gid}")], p.chains[("inet", f"gi-{gid}")] = \
            cache.group(gid, rules, names, same)
    pout, pin, pe, pi = {}, {}, {}, {}
    chains = p.chains
    for tap, pf in rs.ports.items():
        bo, bi, io, ii, name, ke, ki, kbo, kbi, kio, kii = cache.port(pf, index[tap])
        chains[kbo], chains[kbi], chains[kio], chains[kii] = bo, bi, io, ii
        pout[name], pin[name], pe[ke], pi[ki] = kbo[1], kbi[1], kio[1], kii[1]
    p.maps = {("bridge", "pout"): pout, ("bridge", "pin"): pin, ("inet", "pe"): pe,
              ("inet", "pi"): pi, ("inet", "zones"): {
                  f'"{b}"': str(n) for b, n in (zones or {}).items()}}
    cache.forget(rs)
    return p


def _chain_cmds(fam: str, name: str, lines: list[str], flush: bool) -> list[str]:
    head = [f"flush chain {fam} {r.TABLE} {name}"] if flush else []
    return head + [f"add rule {fam} {r.TABLE} {name} {line}" for line in lines]


def _elem_cmd(verb: str, fam: str, name: str, items: list[str]) -> list[str]:
    return [f"{verb} element {fam} {r.TABLE} {name} {{ {', '.join(items)} }}"] if items else []


def _map_cmds(fam: str, name: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
    verb = "" if name == "zones" else "jump "  # the zones map holds numbers, not verdicts
    gone = [k for k, v in old.items() if new.get(k) != v]
    added = [f"{k} : {verb}{v}" for k, v in new.items() if old.get(k) != v]
    return _elem_cmd("delete", fam, name, gone) + _elem_cmd("add", fam, name, added)


def full_batch(plan: Plan) -> list[str]:
    """Both tables from nothing, replacing whatever is there, in one transaction."""
    cmds = []
    for fam in ("bridge", "inet"):
        cmds += [f"add table {fam} {r.TABLE}", f"delete table {fam} {r.TABLE}"]
    cmds += r.base_bridge() + r.base_inet()
    for name, (version, elems) in sorted(plan.sets.items()):
        cmds.append(f"add set inet {r.TABLE} {name} {r.set_decl(name, version)}")
        cmds += _elem_cmd("add", "inet", name, sorted(elems))
    cmds += [f"add chain {fam} {r.TABLE} {name}" for fam, name in plan.chains]
    for (fam, name), lines in _ordered(plan.chains):
        cmds += _chain_cmds(fam, name, lines, flush=False)
    for (fam, name), entries in plan.maps.items():
        cmds += _map_cmds(fam, name, {}, entries)
    return cmds


def _ordered(chains: dict[Key, list[str]]) -> list[tuple[Key, list[str]]]:
    """Group chains before the port chains that jump to them."""
    return sorted(chains.items(), key=lambda kv: (not kv[0][1].startswith("g"), kv[0]))


def diff_batch(old: Plan, new: Plan) -> tuple[list[str], list[str]]:
    """The commands that turn ``old`` into ``new``, and the chains they touched."""
    cmds: list[str] = []
    for name, (version, elems) in sorted(new.sets.items()):
        before = old.sets.get(name, (version, frozenset()))[1]
        if name not in old.sets:
            cmds.append(f"add set inet {r.TABLE} {name} {r.set_decl(name, version)}")
        cmds += _elem_cmd("delete", "inet", name, sorted(before - elems))
        cmds += _elem_cmd("add", "inet", name, sorted(elems - before))
    was = old.chains
    changed = [k for k, v in new.chains.items() if was.get(k) is not v and was.get(k) != v]
    cmds += [f"add chain {fam} {r.TABLE} {name}" for fam, name in changed
             if (fam, name) not in old.chains]
    for (fam, name), lines in _ordered({k: new.chains[k] for k in changed}):
        cmds += _chain_cmds(fam, name, lines, flush=(fam, name) in old.chains)
    for key, entries in new.maps.items():
        cmds += _map_cmds(key[0], key[1], old.maps.get(key, {}), entries)
    gone = [k for k in old.chains if k not in new.chains]
    cmds += [f"flush chain {fam} {r.TABLE} {name}" for fam, name in gone]
    cmds += [f"delete chain {fam} {r.TABLE} {name}" for fam, name in gone]
    cmds += [f"delete set inet {r.TABLE} {name}" for name in old.sets if name not in new.sets]
    return cmds, [name for _, name in changed + gone]


def _touched(names: list[str]) -> tuple[list[str], list[str]]:
    groups = sorted({n[3:] for n in names if n.startswith(("ge-", "gi-"))})
    ports = sorted({n[2:] for n in names if n.startswith(("o-", "i-"))})
    return groups, ports


class NftFirewall:
    """The real firewall: nftables tables ``kumo_sg`` in this (or ``netns``'s) namespace."""

    def __init__(self, netns: str | None = None) -> None:
        self.nft = Nft(netns)
        self.index = Indexes()
        self.zones = Indexes()
        self.renderer = Renderer()
        self.connections_ended = 0
        self.applied: Plan | None = None
        self.desired: Plan = Plan()

    def plan(self, rs: r.Ruleset) -> Plan:
        bridges = sorted({p.bridge for p in rs.ports.values() if p.bridge})
        return build_plan(rs, self.index.assign(list(rs.ports)), self.renderer,
                          self.zones.assign(bridges))

    def apply(self, rs: r.Ruleset, *, full: bool = False) -> ApplyResult:
        """Make the kernel match ``rs``: the difference only, or everything if ``full``."""
        t0 = time.perf_counter()
        before = {gid: hit[0][0] for gid, hit in self.renderer.groups.items()}
        new = self.plan(rs)
        self.desired = new
        whole = full or self.applied is None
        if whole:
            self._bridged_ip_visible()
            cmds, touched = full_batch(new), [n for _, n in new.chains]
        else:
            cmds, touched = diff_batch(self.applied, new)
        t1 = time.perf_counter()
        if cmds:
            try:
                self.nft.run("\n".join(cmds) + "\n")
            except NftError:
                self.applied = None  # unknown now: the next apply rebuilds
                raise
        kernel = time.perf_counter() - t1
        self.applied = new
        self._end_removed(rs, before)
        groups, ports = _touched(touched)
        return ApplyResult(len(cmds), time.perf_counter() - t0, whole, groups, ports, kernel)

    def _end_removed(self, rs: r.Ruleset, before: dict[str, tuple[r.SgRule, ...]]) -> None:
        """Connections admitted by rules that are gone now end (nftables_conntrack)."""
        by_zone: dict[int, list[tuple[r.SgRule, tuple[str, ...]]]] = {}
        for gid, rules in rs.groups.items():
            old = before.get(gid)
            if old is None or old is rules or old == rules:
                continue  # unchanged (the rule index hands out the same tuple)
            removed = set(old) - set(rules)
            if not removed:
                continue
            for pf in rs.ports.values():
                if gid in pf.groups and pf.bridge in self.zones.of and pf.ips4:
                    by_zone.setdefault(self.zones.of[pf.bridge], []).extend(
                        (rule, pf.ips4) for rule in removed)
        for zone, work in by_zone.items():
            try:
                n = self.nft.in_namespace(conntrack.flush, zone, work)
            except Exception as exc:  # the rules are in place; ending old flows is extra
                log.warning("conntrack cleanup in zone %d failed: %s", zone, exc)
            else:
                self.connections_ended += n

    def _bridged_ip_visible(self) -> None:
        """The stateful rules see bridged packets only through br_netfilter: make sure
        this namespace passes them to the IP hooks (the kernel's default is 1)."""
        for name in ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"):
            try:
                if self.nft.ensure_sysctl(name, "1"):
                    log.warning("%s was 0: set to 1 so security groups are enforced", name)
            except OSError as exc:
                raise NftError(f"{name} cannot be read or set: {exc}") from exc

    def verify(self, *, deep: bool = True) -> list[str]:
        """What in the kernel differs from the last applied plan ([] = all in place).
        ``deep`` reads every rule (seconds at tens of thousands of rules); otherwise
        chains, maps and sets only (a deleted chain, port entry or member is found, an
        edited rule inside a chain is not)."""
        want = self.applied or Plan()
        seen = read_kernel(self.nft, deep=deep)
        return compare(want, seen, rules=deep)

    def remove(self) -> None:
        """Both tables gone (tests, and a host leaving kumo)."""
        for fam in ("bridge", "inet"):
            self.nft.run(f"add table {fam} {r.TABLE}\ndelete table {fam} {r.TABLE}\n")
        self.applied = None

    def close(self) -> None:
        self.nft.close()


class FakeFirewall:
    """The same interface in memory, for fake hosts and control-plane tests."""

    def __init__(self) -> None:
        self.index = Indexes()
        self.applied: Plan | None = None
        self.desired: Plan = Plan()
        self.batches = 0

    def apply(self, rs: r.Ruleset, *, full: bool = False) -> ApplyResult:
        t0 = time.perf_counter()
        new = build_plan(rs, self.index.assign(list(rs.ports)))
        old = None if full else self.applied
        if old is None:  # full_batch gives commands only; every chain is touched
            cmds, touched = full_batch(new), [n for _, n in new.chains]
        else:
            cmds, touched = diff_batch(old, new)
        self.applied = self.desired = new
        self.batches += 1
        groups, ports = _touched(touched)
        return ApplyResult(len(cmds), time.perf_counter() - t0, old is None, groups, ports)

    def verify(self, *, deep: bool = True) -> list[str]:
        return []

    def remove(self) -> None:
        self.applied = None

    def close(self) -> None:
        pass
