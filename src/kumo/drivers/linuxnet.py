"""The Linux network driver: bridges, VXLAN, taps, veths and l2population tables.

What the host agent programs per tenant network (the Neutron linuxbridge layout)::

    brq<net[:11]>   Linux bridge, no address, STP off, IPv6 off, MTU 1450
     ├── vxlan-<vni>     VXLAN id=<vni> local=<underlay ip> dstport 4789,
     │                   learning off, proxy ARP on; l2pop FDB + permanent neighbours
     ├── tap<port[:11]>  persistent tap per VM port (QEMU opens it by name, script=no)
     └── tap<port[:11]>  host end of a veth whose peer ns-<port[:11]> lives in
                         qdhcp-<net> with the DHCP port's MAC and addresses

The driver takes device names from the caller (model/network.py derives them from
ids) and validates them; it never builds names from user text.

Threading and namespaces: every netlink call runs on one private worker thread that
owns the pyroute2 `IPRoute` socket. pyroute2 keeps sockets and event loops per
thread, so this keeps exactly one socket, serialises concurrent callers (the agent
calls us through `asyncio.to_thread`) and lets `LinuxNet(netns="x")` work by
`setns()`-ing only that thread. With `netns=None` the worker stays in the network
namespace of the thread that makes the first call (normally the process's own).
Tap creation goes through an ioctl on /dev/net/tun from that same thread, so taps
also land in the driver's namespace.

Every failure is a `NetDriverError` whose message names the operation and device.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

NETNS_DIR = Path("/run/netns")
VXLAN_PORT = 4789
FLOOD_MAC = "00:00:00:00:00:00"
CLONE_NEWNET = 0x40000000
NUD_PERMANENT = 0x80
DEFAULT_PREFIXES = ("brq", "vxlan-", "tap")

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_NETNS = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

T = TypeVar("T")


class NetDriverError(Exception):
    """The network driver could not do what was asked (bad input or kernel refusal)."""


@dataclass
class LinkInfo:
    """One network device as observed; kind is "bridge", "vxlan", "tap", "veth", ..."""

    name: str
    kind: str
    master: str | None
    up: bool
    mtu: int
    mac: str


# --- validation (shared with FakeNet so both refuse the same input) -------------


def validate_ifname(name: str) -> str:
    if not isinstance(name, str) or not _IFNAME.match(name) or name in (".", ".."):
        raise NetDriverError(f"bad interface name {name!r} (1-15 chars of [A-Za-z0-9_.-])")
    return name


def validate_netns(name: str) -> str:
    if not isinstance(name, str) or not _NETNS.match(name):
        raise NetDriverError(f"bad network namespace name {name!r}")
    return name


def validate_mac(mac: str) -> str:
    value = mac.lower() if isinstance(mac, str) else ""
    if not _MAC.match(value):
        raise NetDriverError(f"bad MAC address {mac!r}")
    return value


def validate_ip(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except (ValueError, TypeError) as e:
        raise NetDriverError(f"bad IP address {ip!r}") from e


def validate_mtu(mtu: int) -> int:
    if not isinstance(mtu, int) or isinstance(mtu, bool) or not 68 <= mtu <= 65535:
        raise NetDriverError(f"bad MTU {mtu!r}")
    return mtu


def validate_vni(vni: int) -> int:
    if not isinstance(vni, int) or isinstance(vni, bool) or not 1 <= vni < 2**24:
        raise NetDriverError(f"bad VNI {vni!r}")
    return vni


def validate_cidrs(addresses: Iterable[str]) -> set[str]:
    """IPv4 interface addresses in CIDR form, normalised ("10.0.0.2/24")."""
    out = set()
    for a in addresses:
        try:
            iface = ipaddress.ip_interface(a)
        except (ValueError, TypeError) as e:
            raise NetDriverError(f"bad interface address {a!r} (want CIDR)") from e
        if iface.version != 4 or "/" not in str(a):
            raise NetDriverError(f"bad interface address {a!r} (want IPv4 CIDR)")
        out.add(iface.with_prefixlen)
    return out


def validate_fdb(entries: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(validate_mac(mac), validate_ip(dst)) for mac, dst in entries}


def validate_neighbours(entries: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    out = {(validate_ip(ip), validate_mac(mac)) for ip, mac in entries}
    ips = [ip for ip, _ in out]
    if len(ips) != len(set(ips)):
        raise NetDriverError("one IP address mapped to two MACs in the desired neighbours")
    return out


# --- namespaces -------------------------------------------------------------------

_libc: ctypes.CDLL | None = None


def _setns_fd(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _open_netns(name: str) -> int:
    try:
        return os.open(NETNS_DIR / validate_netns(name), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as e:
        raise NetDriverError(f"network namespace {name!r} does not exist") from e


def _netns_exists(name: str) -> bool:
    return (NETNS_DIR / validate_netns(name)).exists()


# --- the driver -------------------------------------------------------------------


@dataclass
class _Link:
    index: int
    name: str
    kind: str
    master: int
    up: bool
    mtu: int
    mac: str
    data: dict[str, Any]


class LinuxNet:
    """Programs bridges, VXLAN and l2pop state with netlink (pyroute2)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = validate_netns(netns) if netns is not None else None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._ipr: Any = None
        self._closed = False

    # -- plumbing ------------------------------------------------------------------

    def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        if threading.current_thread() is self._worker:
            return fn(*args)
        with self._pool_lock:
            if self._closed:
                raise NetDriverError("LinuxNet is closed")
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="linuxnet")
            future = self._pool.submit(self._guarded, what, fn, *args)
        return future.result()

    def _guarded(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            self._setup()
            return fn(*args)
        except NetDriverError:
            raise
        except (NetlinkError, OSError, ValueError, KeyError) as e:
            raise NetDriverError(f"{what}: {_describe(e)}") from e

    def _setup(self) -> None:
        if self._ipr is not None:
            return
        from pyroute2 import IPRoute

        self._worker = threading.current_thread()
        if self.netns is not None:
            fd = _open_netns(self.netns)
            try:
                _setns_fd(fd)
            finally:
                os.close(fd)
        self._ipr = IPRoute()

    def close(self) -> None:
        """Close the netlink socket and stop the worker thread (idempotent)."""
        with self._pool_lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.submit(self._close_ipr).result()
            pool.shutdown(wait=True)

    def _close_ipr(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    def __enter__(self) -> LinuxNet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- link helpers (worker thread only) -------------------------------------------

    def _get(self, name: str, ipr: Any = None) -> _Link | None:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            msgs = (ipr or self._ipr).link("get", ifname=name)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise
        return _parse_link(msgs[0]) if msgs else None

    def _require(self, name: str, kind: str) -> _Link:
        link = self._get(name)
        if link is None:
            raise NetDriverError(f"{kind} {name} does not exist")
        if link.kind != kind:
            raise NetDriverError(f"{name} is a {link.kind or 'device'}, not a {kind}")
        return link

    def _converge(self, link: _Link, mtu: int, master: _Link | None, ipr: Any = None) -> bool:
        """Set MTU, master and up on an existing device; True if anything changed."""
        ipr = ipr or self._ipr
        changed = False
        if link.mtu != mtu:
            ipr.link("set", index=link.index, mtu=mtu)
            changed = True
        if master is not None and link.master != master.index:
            ipr.link("set", index=link.index, master=master.index)
            changed = True
        if not link.up:
            ipr.link("set", index=link.index, state="up")
            changed = True
        return changed

    # -- queries ---------------------------------------------------------------------

    def links(self, prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> dict[str, LinkInfo]:
        """Devices whose name starts with one of `prefixes` (all devices for ())."""
        return self._run("links", self._links, tuple(prefixes))

    def _links(self, prefixes: tuple[str, ...]) -> dict[str, LinkInfo]:
        all_links = [_parse_link(m) for m in self._ipr.get_links()]
        by_index = {x.index: x.name for x in all_links}
        return {
            x.name: LinkInfo(x.name, x.kind, by_index.get(x.master), x.up, x.mtu, x.mac)
            for x in all_links
            if not prefixes or x.name.startswith(prefixes)
        }

    # -- bridge ----------------------------------------------------------------------

    def ensure_bridge(self, name: str, mtu: int) -> bool:
        """A bridge `name`: STP off, IPv6 off, MTU `mtu`, up. True if anything changed."""
        validate_ifname(name)
        validate_mtu(mtu)
        return self._run(f"ensure_bridge {name}", self._ensure_bridge, name, mtu)

    def _ensure_bridge(self, name: str, mtu: int) -> bool:
        changed = False
        link = self._get(name)
        if link is None:
            self._ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, mtu=mtu)
            link = self._require(name, "bridge")
            changed = True
        elif link.kind != "bridge":
            raise NetDriverError(f"{name} exists and is a {link.kind or 'device'}, not a bridge")
        if link.data.get("IFLA_BR_STP_STATE", 0) != 0:
            self._ipr.link("set", index=link.index, kind="bridge", br_stp_state=0)
            changed = True
        changed |= _disable_ipv6(name)
        changed |= self._converge(link, mtu, None)
        return changed

    # -- vxlan -----------------------------------------------------------------------

    def ensure_vxlan(self, name: str, vni: int, local_ip: str, bridge: str, mtu: int) -> bool:
        """A VXLAN device on `bridge`; recreated when its VNI/local/port/flags differ."""
        validate_ifname(name)
        validate_ifname(bridge)
        validate_vni(vni)
        local = validate_ip(local_ip)
        validate_mtu(mtu)
        return self._run(f"ensure_vxlan {name}", self._ensure_vxlan, name, vni, local, bridge,
                         mtu)

    def _ensure_vxlan(self, name: str, vni: int, local: str, bridge: str, mtu: int) -> bool:
        br = self._require(bridge, "bridge")
        changed = False
        link = self._get(name)
        if link is not None:
            if link.kind != "vxlan":
                raise NetDriverError(f"{name} exists and is a {link.kind or 'device'}, not vxlan")
            d = link.data
            want = {"IFLA_VXLAN_ID": vni, "IFLA_VXLAN_LOCAL": local,
                    "IFLA_VXLAN_PORT": VXLAN_PORT, "IFLA_VXLAN_LEARNING": 0,
                    "IFLA_VXLAN_PROXY": 1}
            if any(d.get(k) != v for k, v in want.items()):
                self._ipr.link("del", index=link.index)
                link = None
        if link is None:
            self._ipr.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local,
                           vxlan_port=VXLAN_PORT, vxlan_learning=0, vxlan_proxy=1, mtu=mtu)
            link = self._require(name, "vxlan")
            changed = True
        changed |= self._converge(link, mtu, br)
        return changed

    # -- tap -------------------------------------------------------------------------

    def ensure_tap(self, name: str, bridge: str, mtu: int) -> bool:
        """A persistent tap (no PI header, single queue), up, on `bridge`."""
        validate_ifname(name)
        validate_ifname(bridge)
        validate_mtu(mtu)
        return self._run(f"ensure_tap {name}", self._ensure_tap, name, bridge, mtu)

    def _ensure_tap(self, name: str, bridge: str, mtu: int) -> bool:
        br = self._require(bridge, "bridge")
        changed = False
        link = self._get(name)
        if link is None:
            self._ipr.link("add", ifname=name, kind="tuntap", mode="tap",
                           ifr={"no_pi": True, "one_queue": False, "vnet_hdr": False,
                                "multi_queue": False})
            link = self._require(name, "tap")
            changed = True
        elif link.kind != "tap":
            raise NetDriverError(f"{name} exists and is a {link.kind or 'device'}, not a tap")
        changed |= self._converge(link, mtu, br)
        return changed

    # -- veth into a namespace ---------------------------------------------------------

    def ensure_veth_netns(self, host_if: str, ns_if: str, netns: str, bridge: str, mtu: int,
                          mac: str, addresses: list[str]) -> bool:
        """A veth pair: `host_if` on `bridge`, `ns_if` inside `netns` (created if missing)
        with `mac`, exactly the IPv4 `addresses` (CIDR) and loopback up."""
        validate_ifname(host_if)
        validate_ifname(ns_if)
        validate_netns(netns)
        validate_ifname(bridge)
        validate_mtu(mtu)
        mac = validate_mac(mac)
        cidrs = validate_cidrs(addresses)
        return self._run(f"ensure_veth_netns {host_if}/{netns}:{ns_if}", self._ensure_veth,
                         host_if, ns_if, netns, bridge, mtu, mac, cidrs)

    def _ensure_veth(self, host_if: str, ns_if: str, netns: str, bridge: str, mtu: int,
                     mac: str, cidrs: set[str]) -> bool:
        from pyroute2 import IPRoute
        from pyroute2 import netns as pnetns

        br = self._require(bridge, "bridge")
        changed = False
        if not _netns_exists(netns):
            pnetns.create(netns)
            changed = True
        ns_fd = _open_netns(netns)
        try:
            home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns_fd(ns_fd)
                try:
                    inner = IPRoute()  # its socket stays bound to `netns`
                finally:
                    _setns_fd(home_fd)
            finally:
                os.close(home_fd)
            try:
                host = self._get(host_if)
                peer_inside = self._get(ns_if, inner)
                if host is not None and (host.kind != "veth" or peer_inside is None
                                         or peer_inside.kind != "veth"):
                    # a tap of that name, or a veth whose peer is not where it belongs
                    self._ipr.link("del", index=host.index)
                    host = None
                    changed = True
                if host is None:
                    if peer_inside is not None:  # stale half of an older pair
                        inner.link("del", index=peer_inside.index)
                    stray = self._get(ns_if)  # left here by an interrupted earlier call
                    if stray is not None:
                        self._ipr.link("del", index=stray.index)
                    self._ipr.link("add", ifname=host_if, kind="veth", peer=ns_if)
                    peer = self._get(ns_if)
                    if peer is None:
                        raise NetDriverError(f"veth peer {ns_if} vanished after create")
                    self._ipr.link("set", index=peer.index, net_ns_fd=ns_fd)
                    host = self._require(host_if, "veth")
                    peer_inside = self._get(ns_if, inner)
                    if peer_inside is None:
                        raise NetDriverError(f"{ns_if} did not arrive in {netns}")
                    changed = True
                changed |= self._converge(host, mtu, br)
                changed |= self._converge_inside(inner, peer_inside, mtu, mac, cidrs)
            finally:
                inner.close()
        finally:
            os.close(ns_fd)
        return changed

    def _converge_inside(self, ipr: Any, link: _Link, mtu: int, mac: str,
                         cidrs: set[str]) -> bool:
        from socket import AF_INET

        changed = False
        if link.mac != mac:
            ipr.link("set", index=link.index, address=mac)
            changed = True
        changed |= self._converge(link, mtu, None, ipr)
        have = {}
        for msg in ipr.get_addr(index=link.index, family=AF_INET):
            have[f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}"] = msg
        for cidr in sorted(set(have) - cidrs):
            ip, plen = cidr.split("/")
            ipr.addr("del", index=link.index, address=ip, prefixlen=int(plen))
            changed = True
        for cidr in sorted(cidrs - set(have)):
            ip, plen = cidr.split("/")
            ipr.addr("add", index=link.index, address=ip, prefixlen=int(plen))
            changed = True
        lo = self._get("lo", ipr)
        if lo is not None and not lo.up:
            ipr.link("set", index=lo.index, state="up")
            changed = True
        return changed

    # -- delete ----------------------------------------------------------------------

    def delete_link(self, name: str) -> bool:
        """Delete a device (a veth takes its peer along). False if it was not there."""
        validate_ifname(name)
        return self._run(f"delete_link {name}", self._delete_link, name)

    def _delete_link(self, name: str) -> bool:
        from pyroute2.netlink.exceptions import NetlinkError

        link = self._get(name)
        if link is None:
            return False
        try:
            self._ipr.link("del", index=link.index)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return False
            raise
        return True

    # -- FDB (l2population) ------------------------------------------------------------

    def fdb(self, vxlan: str) -> set[tuple[str, str]]:
        """{(mac, remote vtep)} of the device's entries that have a destination."""
        validate_ifname(vxlan)
        return self._run(f"fdb {vxlan}", self._fdb, vxlan)

    def _fdb(self, vxlan: str) -> set[tuple[str, str]]:
        link = self._require(vxlan, "vxlan")
        return {
            (mac, dst)
            for mac, dst, _ in self._fdb_entries(link.index)
        }

    def _fdb_entries(self, index: int) -> list[tuple[str, str, int]]:
        from socket import AF_BRIDGE

        out = []
        for msg in self._ipr.neigh("dump", family=AF_BRIDGE, ifindex=index):
            if msg["ifindex"] != index:
                continue
            dst = msg.get_attr("NDA_DST")
            mac = msg.get_attr("NDA_LLADDR")
            if dst is None or mac is None:
                continue  # the bridge's own/learned entries: the kernel's business
            out.append((mac.lower(), str(ipaddress.ip_address(dst)), msg["state"]))
        return out

    def sync_fdb(self, vxlan: str, desired: set[tuple[str, str]]) -> tuple[int, int]:
        """Make the entries with a destination exactly `desired`; (added, removed).

        Flood entries (00:00:00:00:00:00, one per remote VTEP) and unicast entries
        are both appended, so several destinations per MAC can coexist.
        """
        validate_ifname(vxlan)
        want = validate_fdb(desired)
        return self._run(f"sync_fdb {vxlan}", self._sync_fdb, vxlan, want)

    def _sync_fdb(self, vxlan: str, want: set[tuple[str, str]]) -> tuple[int, int]:
        link = self._require(vxlan, "vxlan")
        have = self._fdb(vxlan)
        removed = added = 0
        for mac, dst in sorted(have - want):
            if _ignore_missing(lambda m=mac, d=dst: self._ipr.fdb(
                    "del", ifindex=link.index, lladdr=m, dst=d)):
                removed += 1
        for mac, dst in sorted(want - have):
            if _ignore_exists(lambda m=mac, d=dst: self._ipr.fdb(
                    "append", ifindex=link.index, lladdr=m, dst=d)):
                added += 1
        return added, removed

    # -- neighbours (ARP proxy answers) -----------------------------------------------

    def neighbours(self, dev: str) -> set[tuple[str, str]]:
        """{(ip, mac)} of the device's permanent IPv4 neighbour entries."""
        validate_ifname(dev)
        return self._run(f"neighbours {dev}", self._neighbours, dev)

    def _neighbours(self, dev: str) -> set[tuple[str, str]]:
        from socket import AF_INET

        link = self._get(dev)
        if link is None:
            raise NetDriverError(f"device {dev} does not exist")
        out = set()
        for msg in self._ipr.neigh("dump", family=AF_INET, ifindex=link.index):
            if msg["ifindex"] != link.index or not msg["state"] & NUD_PERMANENT:
                continue
            ip, mac = msg.get_attr("NDA_DST"), msg.get_attr("NDA_LLADDR")
            if ip is not None and mac is not None:
                out.add((ip, mac.lower()))
        return out

    def sync_neighbours(self, dev: str, desired: set[tuple[str, str]]) -> tuple[int, int]:
        """Make the permanent entries exactly `desired`; (added, removed)."""
        validate_ifname(dev)
        want = validate_neighbours(desired)
        return self._run(f"sync_neighbours {dev}", self._sync_neighbours, dev, want)

    def _sync_neighbours(self, dev: str, want: set[tuple[str, str]]) -> tuple[int, int]:
        have = self._neighbours(dev)
        index = self._require_index(dev)
        removed = added = 0
        for ip, _mac in sorted(have - want):
            if _ignore_missing(lambda i=ip: self._ipr.neigh("del", ifindex=index, dst=i)):
                removed += 1
        for ip, mac in sorted(want - have):
            self._ipr.neigh("replace", ifindex=index, dst=ip, lladdr=mac, state=NUD_PERMANENT)
            added += 1
        return added, removed

    def _require_index(self, dev: str) -> int:
        link = self._get(dev)
        if link is None:
            raise NetDriverError(f"device {dev} does not exist")
        return link.index

    # -- named namespaces ------------------------------------------------------------

    def netns_list(self) -> list[str]:
        """Names under /run/netns (the namespaces are machine-wide, not per driver)."""
        try:
            return sorted(p.name for p in NETNS_DIR.iterdir())
        except FileNotFoundError:
            return []

    def delete_netns(self, name: str) -> bool:
        """Unbind a named namespace; False if it was not there. Processes still inside
        keep it alive (unnamed): stop dnsmasq and friends first."""
        validate_netns(name)
        if not _netns_exists(name):
            return False
        from pyroute2 import netns as pnetns

        try:
            pnetns.remove(name)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return False
            raise NetDriverError(f"delete_netns {name}: {_describe(e)}") from e
        return True


# --- helpers ------------------------------------------------------------------------


def _parse_link(msg: Any) -> _Link:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = ""
    data: dict[str, Any] = {}
    if info is not None:
        kind = info.get_attr("IFLA_INFO_KIND") or ""
        raw = info.get_attr("IFLA_INFO_DATA")
        if raw is not None and hasattr(raw, "get"):
            data = {k: v for k, v in raw.get("attrs", [])}
    if kind == "tun":
        kind = "tap" if data.get("IFLA_TUN_TYPE") == 2 else "tun"
    return _Link(
        index=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind,
        master=msg.get_attr("IFLA_MASTER") or 0,
        up=bool(msg["flags"] & 1),
        mtu=msg.get_attr("IFLA_MTU") or 0,
        mac=(msg.get_attr("IFLA_ADDRESS") or "").lower(),
        data=data,
    )


def _disable_ipv6(name: str) -> bool:
    """No IPv6 link-local on the bridge: the host must not be reachable from tenants.

    /proc/sys/net resolves in the calling thread's namespace (the worker's)."""
    path = Path("/proc/sys/net/ipv6/conf") / name / "disable_ipv6"
    try:
        if path.read_text().strip() == "1":
            return False
        path.write_text("1")
    except FileNotFoundError:
        return False  # IPv6 disabled in this kernel/namespace
    return True


def _ignore_missing(op: Callable[[], object]) -> bool:
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        op()
    except NetlinkError as e:
        if e.code in (errno.ENOENT, errno.ESRCH):
            return False
        raise
    return True


def _ignore_exists(op: Callable[[], object]) -> bool:
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        op()
    except NetlinkError as e:
        if e.code == errno.EEXIST:
            return False
        raise
    return True


def _describe(e: BaseException) -> str:
    code = getattr(e, "code", None) or getattr(e, "errno", None)
    if isinstance(code, int) and code > 0:
        return f"{os.strerror(code)} (errno {code})"
    return str(e) or type(e).__name__
