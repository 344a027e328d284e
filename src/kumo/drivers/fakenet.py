"""The fake network driver: LinuxNet's interface, all in memory.

For agent tests and scale runs (dozens of fake hosts in one process): no netlink,
no namespaces, no root. It validates input exactly like LinuxNet (same helpers,
same NetDriverError) and keeps enough state to answer the same queries. `calls`
counts every public call by method name; tests may poke `devices`, `fdbs`,
`neighs` and `namespaces` directly to simulate drift.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from .linuxnet_devices import DEFAULT_PREFIXES
from .netvalidate import (
    LinkInfo,
    NetDriverError,
    validate_fdb,
    validate_ifname,
    validate_mtu,
    validate_neighbours,
    validate_netns,
    validate_port,
    validate_veth,
    validate_vxlan,
)


@dataclass
class FakeDevice:
    name: str
    kind: str
    mtu: int
    mac: str
    master: str | None = None
    up: bool = True
    vni: int | None = None
    local: str | None = None
    peer: str | None = None  # veth: (the peer's name, in `peer_netns`)
    peer_netns: str | None = None


@dataclass
class FakeNsDevice:
    name: str
    mac: str
    mtu: int
    addresses: set[str] = field(default_factory=set)
    up: bool = True


class FakeNet:
    def __init__(self, netns: str | None = None) -> None:
        self.netns = validate_netns(netns) if netns is not None else None
        self.devices: dict[str, FakeDevice] = {}
        self.fdbs: dict[str, set[tuple[str, str]]] = {}
        self.neighs: dict[str, set[tuple[str, str]]] = {}
        self.namespaces: dict[str, dict[str, FakeNsDevice]] = {}
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()  # callers come through asyncio.to_thread
        self._macs = 0

    def close(self) -> None:
        self.calls["close"] += 1

    def __enter__(self) -> FakeNet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------------------

    def _mac(self) -> str:
        self._macs += 1
        n = self._macs
        octets = [(id(self) >> 8) & 0xFF, (n >> 24) & 0xFF, (n >> 16) & 0xFF, (n >> 8) & 0xFF,
                  n & 0xFF]
        return "fe:" + ":".join(f"{o:02x}" for o in octets)

    def _require(self, name: str, kind: str) -> FakeDevice:
        dev = self.devices.get(name)
        if dev is None:
            raise NetDriverError(f"{kind} {name} does not exist")
        if dev.kind != kind:
            raise NetDriverError(f"{name} is a {dev.kind}, not a {kind}")
        return dev

    def _add(self, name: str, kind: str, mtu: int, **kw: object) -> FakeDevice:
        dev = FakeDevice(name, kind, mtu, self._mac(), **kw)  # type: ignore[arg-type]
        self.devices[name] = dev
        return dev

    @staticmethod
    def _converge(dev: FakeDevice, mtu: int, master: str | None) -> bool:
        changed = False
        if dev.mtu != mtu:
            dev.mtu, changed = mtu, True
        if master is not None and dev.master != master:
            dev.master, changed = master, True
        if not dev.up:
            dev.up, changed = True, True
        return changed

    def _remove(self, name: str) -> None:
        dev = self.devices.pop(name)
        self.fdbs.pop(name, None)
        self.neighs.pop(name, None)
        for other in self.devices.values():
            if other.master == name:
                other.master = None
        if dev.kind == "veth" and dev.peer_netns in self.namespaces:
            self.namespaces[dev.peer_netns].pop(dev.peer or "", None)

    # -- the interface -------------------------------------------------------------

    def links(self, prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> dict[str, LinkInfo]:
        with self._lock:
            self.calls["links"] += 1
            return {
                d.name: LinkInfo(d.name, d.kind, d.master, d.up, d.mtu, d.mac)
                for d in self.devices.values()
                if not prefixes or d.name.startswith(tuple(prefixes))
            }

    def ensure_bridge(self, name: str, mtu: int) -> bool:
        validate_ifname(name)
        validate_mtu(mtu)
        with self._lock:
            self.calls["ensure_bridge"] += 1
            dev = self.devices.get(name)
            if dev is None:
                self._add(name, "bridge", mtu)
                return True
            if dev.kind != "bridge":
                raise NetDriverError(f"{name} exists and is a {dev.kind}, not a bridge")
            return self._converge(dev, mtu, None)

    def ensure_vxlan(self, name: str, vni: int, local_ip: str, bridge: str, mtu: int) -> bool:
        local = validate_vxlan(name, vni, local_ip, bridge, mtu)
        with self._lock:
            self.calls["ensure_vxlan"] += 1
            self._require(bridge, "bridge")
            dev = self.devices.get(name)
            if dev is not None:
                if dev.kind != "vxlan":
                    raise NetDriverError(f"{name} exists and is a {dev.kind}, not vxlan")
                if dev.vni != vni or dev.local != local:
                    self._remove(name)
                    dev = None
            if dev is None:
                self._add(name, "vxlan", mtu, master=bridge, vni=vni, local=local)
                self.fdbs[name] = set()
                self.neighs[name] = set()
                return True
            return self._converge(dev, mtu, bridge)

    def ensure_tap(self, name: str, bridge: str, mtu: int) -> bool:
        validate_port(name, bridge, mtu)
        with self._lock:
            self.calls["ensure_tap"] += 1
            self._require(bridge, "bridge")
            dev = self.devices.get(name)
            if dev is None:
                self._add(name, "tap", mtu, master=bridge)
                return True
            if dev.kind != "tap":
                raise NetDriverError(f"{name} exists and is a {dev.kind}, not a tap")
            return self._converge(dev, mtu, bridge)

    def ensure_veth_netns(self, host_if: str, ns_if: str, netns: str, bridge: str, mtu: int,
                          mac: str, addresses: list[str]) -> bool:
        mac, cidrs = validate_veth(host_if, ns_if, netns, bridge, mtu, mac, addresses)
        with self._lock:
            self.calls["ensure_veth_netns"] += 1
            self._require(bridge, "bridge")
            changed = False
            if netns not in self.namespaces:
                self.namespaces[netns] = {}
                changed = True
            inside = self.namespaces[netns]
            host = self.devices.get(host_if)
            if host is not None and (host.kind != "veth" or host.peer != ns_if
                                     or host.peer_netns != netns or ns_if not in inside):
                self._remove(host_if)
                host = None
            if host is None:
                host = self._add(host_if, "veth", mtu, master=bridge, peer=ns_if,
                                 peer_netns=netns)
                inside[ns_if] = FakeNsDevice(ns_if, mac, mtu, set(cidrs))
                return True
            changed |= self._converge(host, mtu, bridge)
            peer = inside[ns_if]
            if (peer.mac, peer.mtu, peer.addresses, peer.up) != (mac, mtu, cidrs, True):
                peer.mac, peer.mtu, peer.addresses, peer.up = mac, mtu, set(cidrs), True
                changed = True
            return changed

    def delete_link(self, name: str) -> bool:
        validate_ifname(name)
        with self._lock:
            self.calls["delete_link"] += 1
            if name not in self.devices:
                return False
            self._remove(name)
            return True

    def fdb(self, vxlan: str) -> set[tuple[str, str]]:
        validate_ifname(vxlan)
        with self._lock:
            self.calls["fdb"] += 1
            self._require(vxlan, "vxlan")
            return set(self.fdbs[vxlan])

    def sync_fdb(self, vxlan: str, desired: set[tuple[str, str]]) -> tuple[int, int]:
        validate_ifname(vxlan)
        want = validate_fdb(desired)
        with self._lock:
            self.calls["sync_fdb"] += 1
            self._require(vxlan, "vxlan")
            have = self.fdbs[vxlan]
            added, removed = len(want - have), len(have - want)
            self.fdbs[vxlan] = set(want)
            return added, removed

    def neighbours(self, dev: str) -> set[tuple[str, str]]:
        validate_ifname(dev)
        with self._lock:
            self.calls["neighbours"] += 1
            if dev not in self.devices:
                raise NetDriverError(f"device {dev} does not exist")
            return set(self.neighs.setdefault(dev, set()))

    def sync_neighbours(self, dev: str, desired: set[tuple[str, str]]) -> tuple[int, int]:
        validate_ifname(dev)
        want = validate_neighbours(desired)
        with self._lock:
            self.calls["sync_neighbours"] += 1
            if dev not in self.devices:
                raise NetDriverError(f"device {dev} does not exist")
            have = self.neighs.setdefault(dev, set())
            added, removed = len(want - have), len(have - want)
            self.neighs[dev] = set(want)
            return added, removed

    def netns_list(self) -> list[str]:
        with self._lock:
            self.calls["netns_list"] += 1
            return sorted(self.namespaces)

    def delete_netns(self, name: str) -> bool:
        validate_netns(name)
        with self._lock:
            self.calls["delete_netns"] += 1
            if name not in self.namespaces:
                return False
            del self.namespaces[name]
            for dev in [d for d in self.devices.values() if d.peer_netns == name]:
                self._remove(dev.name)  # the kernel destroys veth pairs with the netns
            return True
