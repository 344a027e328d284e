"""LinuxNet's veth pairs into a namespace, and the addresses on the inner end.

This is how a DHCP namespace joins a tenant bridge: `host_if` on the bridge,
`ns_if` inside `netns` with the DHCP port's MAC and exactly the given IPv4
addresses. The inner end is programmed through a second IPRoute socket opened
inside the namespace (a socket keeps the namespace it was made in).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .linuxnet_worker import NetlinkWorker, _Link, netns_exists, open_netns
from .netns import setns
from .netvalidate import NetDriverError, validate_veth


@contextmanager
def _socket_in(ns_fd: int) -> Iterator[Any]:
    """An IPRoute socket bound to the namespace open as ns_fd (this thread goes back)."""
    from pyroute2 import IPRoute

    home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(ns_fd)
        try:
            inner = IPRoute()  # its socket stays bound to the namespace
        finally:
            setns(home_fd)
    finally:
        os.close(home_fd)
    try:
        yield inner
    finally:
        inner.close()


class VethOps(NetlinkWorker):
    def ensure_veth_netns(self, host_if: str, ns_if: str, netns: str, bridge: str, mtu: int,
                          mac: str, addresses: list[str]) -> bool:
        """A veth pair: `host_if` on `bridge`, `ns_if` inside `netns` (created if missing)
        with `mac`, exactly the IPv4 `addresses` (CIDR) and loopback up."""
        mac, cidrs = validate_veth(host_if, ns_if, netns, bridge, mtu, mac, addresses)
        return self._run(f"ensure_veth_netns {host_if}/{netns}:{ns_if}", self._ensure_veth,
                         host_if, ns_if, netns, bridge, mtu, mac, cidrs)

    def _ensure_veth(self, host_if: str, ns_if: str, netns: str, bridge: str, mtu: int,
                     mac: str, cidrs: set[str]) -> bool:
        from pyroute2 import netns as pnetns

        br = self._require(bridge, "bridge")
        changed = False
        if not netns_exists(netns):
            pnetns.create(netns)
            changed = True
        ns_fd = open_netns(netns)
        try:
            with _socket_in(ns_fd) as inner:
                host, peer, made = self._ensure_pair(inner, ns_fd, host_if, ns_if, netns)
                changed |= made
                changed |= self._converge(host, mtu, br)
                changed |= self._converge_inside(inner, peer, mtu, mac, cidrs)
        finally:
            os.close(ns_fd)
        return changed

    def _ensure_pair(self, inner: Any, ns_fd: int, host_if: str, ns_if: str,
                     netns: str) -> tuple[_Link, _Link, bool]:
        """(host end, inner end, changed): the pair as it should be, rebuilt if broken."""
        host = self._get(host_if)
        peer_inside = self._get(ns_if, inner)
        if (host is not None and host.kind == "veth"
                and peer_inside is not None and peer_inside.kind == "veth"):
            return host, peer_inside, False
        if host is not None:
            # a tap of that name, or a veth whose peer is not where it belongs
            self._ipr.link("del", index=host.index)
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
        return host, peer_inside, True

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
