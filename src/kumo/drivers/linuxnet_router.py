"""A router's namespace on its host: forwarding, routes, floating addresses, NAT.

The legs (veth pairs from the tenant bridges into ``qrouter-<id>``, with the gateway
IPs) are made by the overlay sync like the DHCP namespace's; this driver does what
happens inside:

- IPv4 forwarding on (off, with no routes, addresses or NAT, while the router is
  administratively down: its legs stay, it just does not forward);
- the default route via the external subnet's gateway and the router's extra routes
  (``proto static``: only those are ever removed);
- each floating IP as a /32 on ``lo``, so the gateway leg answers ARP for it — and
  stops at once when the address goes;
- one nftables table ``ip kumo_router``, replaced in one ``nft -f`` transaction per
  change (rendered by ``render_nat``): DNAT + SNAT per floating IP with named packet
  counters, SNAT to the gateway IP for the subnets behind it, masquerade for hairpin
  traffic (a guest reaching a neighbour's floating IP);
- when a floating IP goes or moves, its conntrack entries are deleted, so established
  connections through it stop at once.

Netlink and conntrack sockets are opened inside the namespace from a short-lived
thread (a socket keeps the namespace it was made in). Names come from ids only.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import netns as nsmod

T = TypeVar("T")
TABLE = "kumo_router"
PREFIX = "qrouter-"
RT_PROTO_STATIC = 4
_IFNAME = re.compile(r"^q[rg]-[0-9a-f-]{11}$")
_ID = re.compile(r"^[0-9a-f-]{8,36}$")


class RouterDriverError(Exception):
    """A router namespace could not be programmed (the message names what)."""


@dataclass(frozen=True)
class FipNat:
    fip_id: str
    floating_ip: str
    fixed_ip: str


@dataclass(frozen=True)
class RouterConfig:
    """What one router's namespace should hold (agent/network_router_desired.py)."""

    netns: str
    gateway_if: str | None = None
    gateway_ip: str | None = None  # the router's address on the external network
    gateway_nexthop: str | None = None  # the external subnet's gateway, if any
    snat: bool = True
    internal_cidrs: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop)
    fips: tuple[FipNat, ...] = field(default_factory=tuple)
    forwarding: bool = True  # off for an administratively down router


def counter_name(direction: str, fip_id: str) -> str:
    return f"{direction}_{fip_id.replace('-', '')[:16]}"


def _check(cfg: RouterConfig) -> None:
    nsmod.validate_name(cfg.netns)
    if not cfg.netns.startswith(PREFIX):
        raise RouterDriverError(f"not a router namespace: {cfg.netns!r}")
    if cfg.gateway_if is not None and not _IFNAME.match(cfg.gateway_if):
        raise RouterDriverError(f"bad gateway interface {cfg.gateway_if!r}")
    for ip in [cfg.gateway_ip, cfg.gateway_nexthop, *(f.floating_ip for f in cfg.fips),
               *(f.fixed_ip for f in cfg.fips), *(r[1] for r in cfg.routes)]:
        if ip is not None:
            ipaddress.IPv4Address(ip)
    for cidr in [*cfg.internal_cidrs, *(r[0] for r in cfg.routes)]:
        ipaddress.IPv4Network(cidr)
    for f in cfg.fips:
        if not _ID.match(f.fip_id):
            raise RouterDriverError(f"bad floating IP id {f.fip_id!r}")


def render_nat(cfg: RouterConfig) -> str:
    """The whole table, replaced atomically (add, delete, define in one batch)."""
    _check(cfg)
    gw = cfg.gateway_if
    lines = [f"table ip {TABLE} {{}}", f"delete table ip {TABLE}", f"table ip {TABLE} {{"]
    for f in cfg.fips:
        lines += [f"  counter {counter_name('dnat', f.fip_id)} {{}}",
                  f"  counter {counter_name('snat', f.fip_id)} {{}}"]
    lines += ["  chain prerouting {", "    type nat hook prerouting priority dstnat; "
              "policy accept;"]
    for f in cfg.fips if gw else ():
        lines.append(f"    ip daddr {f.floating_ip} counter name "
                     f"{counter_name('dnat', f.fip_id)} dnat to {f.fixed_ip}")
    lines += ["  }", "  chain postrouting {",
              "    type nat hook postrouting priority srcnat; policy accept;"]
    if gw and cfg.internal_cidrs:
        inside = "{ " + ", ".join(cfg.internal_cidrs) + " }"
        lines.append(f"    ct status dnat ip saddr {inside} oifname != \"{gw}\" masquerade")
        for f in cfg.fips:
            lines.append(f"    ip saddr {f.fixed_ip} oifname \"{gw}\" counter name "
                         f"{counter_name('snat', f.fip_id)} snat to {f.floating_ip}")
        if cfg.snat and cfg.gateway_ip:
            lines.append(f"    ip saddr {inside} oifname \"{gw}\" snat to {cfg.gateway_ip}")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` on a thread that entered namespace ``name`` (and then ends)."""
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            fd = os.open(nsmod.path(name), os.O_RDONLY | os.O_CLOEXEC)
            try:
                nsmod.setns(fd)
            finally:
                os.close(fd)
            out["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            out["error"] = exc

    t = threading.Thread(target=work, name=f"netns-{name[:20]}")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]  # type: ignore[no-any-return]


def _nft(netns: str, *args: str, stdin: str | None = None) -> str:
    argv = ["ip", "netns", "exec", netns, "nft", *args]
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=20,
                         check=False)
    if res.returncode != 0:
        raise RouterDriverError(f"nft {' '.join(args)} in {netns}: {res.stderr.strip()}")
    return res.stdout


class RouterNet:
    """Programs router namespaces; remembers what it applied to skip no-op batches.

    Namespace names are machine-wide: another agent on the same kernel (a second cloud,
    or the other hosts of a test cloud) sees our ``qrouter-*`` too. ``namespaces()``
    therefore lists only those this agent programmed — recorded under ``state_dir`` so
    a restarted agent still collects its own — and never another agent's, whose router
    it cannot know and whose namespace (legs, NAT state, connections) it would destroy.
    """

    def __init__(self, state_dir: Path | None = None) -> None:
        self._nat: dict[str, str] = {}
        self._fips: dict[str, dict[str, str]] = {}  # netns -> floating ip -> fixed ip
        self._announced: dict[str, set[tuple[str, str]]] = {}  # netns -> {(ifname, ip)}
        self._owned_dir = state_dir / "routers" if state_dir is not None else None
        self._owned: set[str] = set()  # programmed by this instance (marked on disk)
        self._ident: dict[str, int] = {}  # netns -> inode of the namespace we programmed
        self.flushed = 0  # conntrack entries deleted (for tests and metrics)

    def namespaces(self) -> list[str]:
        """Router namespaces this agent made that still exist (never another agent's)."""
        try:
            present = {p.name for p in nsmod.NETNS_DIR.iterdir() if p.name.startswith(PREFIX)}
        except FileNotFoundError:
            return []
        return sorted(present & self._mine())

    def _mine(self) -> set[str]:
        if self._owned_dir is None:
            return set(self._owned)
        try:
            return {p.name for p in self._owned_dir.iterdir() if p.name.startswith(PREFIX)}
        except FileNotFoundError:
            return set()

    def _claim(self, netns: str) -> None:
        if netns in self._owned:
            return
        if self._owned_dir is not None:
            self._owned_dir.mkdir(parents=True, exist_ok=True)
            (self._owned_dir / netns).touch()
        self._owned.add(netns)

    def _release(self, netns: str) -> None:
        self._owned.discard(netns)
        if self._owned_dir is not None:
            (self._owned_dir / netns).unlink(missing_ok=True)

    def ensure(self, cfg: RouterConfig, verify: bool = True) -> int:
        """Converge the namespace on ``cfg``; the number of changes made. Without
        ``verify`` an unchanged NAT table is trusted (one subprocess less on the fast
        path); the periodic resync verifies and repairs it."""
        _check(cfg)
        self._claim(cfg.netns)
        if not nsmod.exists(cfg.netns):
            nsmod.create(cfg.netns)
        self._same_namespace(cfg.netns)
        changes = in_netns(cfg.netns, lambda: self._inside(cfg))
        text = render_nat(cfg)
        if self._nat.get(cfg.netns) != text or (verify and not self._table_present(cfg.netns)):
            _nft(cfg.netns, "-f", "-", stdin=text)
            self._nat[cfg.netns] = text
            changes += 1
        old = self._fips.get(cfg.netns, {})
        new = {f.floating_ip: f.fixed_ip for f in cfg.fips}
        gone = [ip for ip, fixed in old.items() if new.get(ip) != fixed]
        if gone:
            self.flushed += in_netns(cfg.netns, lambda: _flush(gone))
        self._fips[cfg.netns] = new
        return changes

    def _same_namespace(self, netns: str) -> None:
        """A namespace removed and made again under the same name (by hand, or by the
        overlay sync after someone deleted it) holds none of what we remember applying:
        forget it, so this very sync loads the NAT table again instead of trusting the
        cache until the next timer (meanwhile the FIP on lo answered SYNs with RST)."""
        ident = os.stat(nsmod.path(netns)).st_ino
        if self._ident.get(netns) != ident:
            self._nat.pop(netns, None)
            self._fips.pop(netns, None)
            self._announced.pop(netns, None)
            self._ident[netns] = ident

    def _table_present(self, netns: str) -> bool:
        return f"table ip {TABLE}" in _nft(netns, "list", "tables")

    def _inside(self, cfg: RouterConfig) -> int:
        from pyroute2 import IPRoute

        changes = _sysctl("/proc/sys/net/ipv4/ip_forward", "1" if cfg.forwarding else "0")
        # hairpin traffic leaves by the leg it came in on: no ICMP redirects for it
        for conf in sorted(Path("/proc/sys/net/ipv4/conf").iterdir()):
            changes += _sysctl(str(conf / "send_redirects"), "0")
        with IPRoute() as ipr:
            added, stale = self._sync_lo(ipr, {f.floating_ip for f in cfg.fips})
            changes += added + len(stale)
            if stale:  # an address gone from lo: its connections go with it
                self.flushed += _flush(stale)
            changes += _sync_routes(ipr, cfg)
            self._announce(ipr, cfg)
        return changes

    def _announce(self, ipr: Any, cfg: RouterConfig) -> None:
        """Gratuitous ARP for every leg address and floating IP not announced yet, so
        neighbours drop a stale MAC at once (a router re-created, a FIP moved here)."""
        from socket import AF_INET

        seen = self._announced.setdefault(cfg.netns, set())
        want: set[tuple[str, str]] = set()
        macs: dict[str, str] = {}
        for link in ipr.get_links():
            name = link.get_attr("IFLA_IFNAME") or ""
            if not _IFNAME.match(name):
                continue
            macs[name] = link.get_attr("IFLA_ADDRESS")
            for a in ipr.get_addr(index=link["index"], family=AF_INET):
                want.add((name, a.get_attr("IFA_ADDRESS")))
            if name == cfg.gateway_if:
                want |= {(name, f.floating_ip) for f in cfg.fips}
        for name, ip in sorted(want - seen):
            try:
                _garp(name, macs[name], ip)
            except OSError:
                continue  # the leg is not up yet: the next sync announces it
            seen.add((name, ip))
        seen &= want

    def _sync_lo(self, ipr: Any, want: set[str]) -> tuple[int, list[str]]:
        from socket import AF_INET

        lo = ipr.link_lookup(ifname="lo")[0]
        ipr.link("set", index=lo, state="up")
        have = {m.get_attr("IFA_ADDRESS") for m in ipr.get_addr(index=lo, family=AF_INET)
                if m["prefixlen"] == 32}
        for ip in sorted(want - have):
            ipr.addr("add", index=lo, address=ip, prefixlen=32)
        stale = sorted(have - want)
        for ip in stale:
            ipr.addr("del", index=lo, address=ip, prefixlen=32)
        return len(want - have), stale

    def delete(self, netns: str) -> bool:
        """Remove a router namespace (its legs go with it)."""
        nsmod.validate_name(netns)
        self._nat.pop(netns, None)
        self._fips.pop(netns, None)
        self._announced.pop(netns, None)
        self._ident.pop(netns, None)
        self._release(netns)
        if not netns.startswith(PREFIX) or not nsmod.exists(netns):
            return False
        nsmod.delete(netns)
        return True

    def conntrack_entries(self, netns: str) -> int:
        from pyroute2 import Conntrack

        def count() -> int:
            with Conntrack() as ct:
                return int(ct.count())

        return in_netns(netns, count)

    def counters(self, netns: str) -> dict[str, int]:
        """Packets per named counter (``dnat_<fip>``, ``snat_<fip>``)."""
        data = json.loads(_nft(netns, "-j", "list", "counters", "table", "ip", TABLE))
        out = {}
        for item in data.get("nftables", []):
            c = item.get("counter")
            if c:
                out[c["name"]] = int(c.get("packets", 0))
        return out


def _garp(ifname: str, mac_text: str, ip: str) -> None:
    """Broadcast a gratuitous ARP request for ``ip`` from ``ifname`` (this netns)."""
    import socket
    import struct

    mac = bytes.fromhex(mac_text.replace(":", ""))
    addr = socket.inet_aton(ip)
    frame = (b"\xff" * 6 + mac + struct.pack("!H", 0x0806)
             + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + addr + b"\x00" * 6 + addr)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((ifname, 0))
        for _ in range(2):
            sock.send(frame)


def _sysctl(path: str, value: str) -> int:
    """Set a /proc/sys value of this thread's namespace; 1 if it changed."""
    with open(path, "r+") as f:
        if f.read().strip() == value:
            return 0
        f.seek(0)
        f.write(value)
    return 1


def _flush(addresses: list[str]) -> int:
    """Delete conntrack entries to or from (NATed to) these addresses (in this netns)."""
    from pyroute2 import Conntrack

    wanted = set(addresses)
    n = 0
    with Conntrack() as ct:
        for e in list(ct.dump_entries()):
            if {e.tuple_orig.daddr, e.tuple_reply.daddr, e.tuple_orig.saddr} & wanted:
                try:
                    ct.entry("del", tuple_orig=e.tuple_orig)
                    n += 1
                except Exception:  # gone meanwhile
                    pass
    return n


def _sync_routes(ipr: Any, cfg: RouterConfig) -> int:
    """The default route and the extra routes (proto static) are exactly ``cfg``'s."""
    from socket import AF_INET

    want: dict[str, str] = {}
    if cfg.gateway_nexthop and cfg.gateway_if:
        want["0.0.0.0/0"] = cfg.gateway_nexthop
    for dest, hop in cfg.routes:
        want[dest] = hop
    have: dict[str, str] = {}
    for r in ipr.get_routes(family=AF_INET, table=254):
        if r["proto"] != RT_PROTO_STATIC:
            continue
        have[f"{r.get_attr('RTA_DST') or '0.0.0.0'}/{r['dst_len']}"] = r.get_attr("RTA_GATEWAY")
    changes = 0
    for dest in sorted(set(have) - set(want)):
        ipr.route("del", dst=dest, proto=RT_PROTO_STATIC)
        changes += 1
    for dest, hop in sorted(want.items()):
        if have.get(dest) != hop:
            try:
                ipr.route("replace", dst=dest, gateway=hop, proto=RT_PROTO_STATIC)
                changes += 1
            except Exception as exc:  # nexthop not reachable yet (leg missing): next sync
                raise RouterDriverError(f"route {dest} via {hop} in {cfg.netns}: {exc}") \
                    from exc
    return changes
