"""LinuxNet's l2population tables: VXLAN FDB entries and permanent ARP neighbours.

Both are synced to an exact desired set: entries we do not want are removed,
missing ones added; (added, removed) is returned so the agent can count repairs.
Entries without a destination (the bridge's own, learned ones) are the kernel's
business and never touched.
"""

from __future__ import annotations

import ipaddress

from .linuxnet_worker import NetlinkWorker, ignore_exists, ignore_missing
from .netvalidate import NetDriverError, validate_fdb, validate_ifname, validate_neighbours

FLOOD_MAC = "00:00:00:00:00:00"
NUD_PERMANENT = 0x80


class L2Ops(NetlinkWorker):
    # -- FDB ---------------------------------------------------------------------------

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
            if ignore_missing(lambda m=mac, d=dst: self._ipr.fdb(
                    "del", ifindex=link.index, lladdr=m, dst=d)):
                removed += 1
        for mac, dst in sorted(want - have):
            if ignore_exists(lambda m=mac, d=dst: self._ipr.fdb(
                    "append", ifindex=link.index, lladdr=m, dst=d)):
                added += 1
        return added, removed

    # -- neighbours (ARP proxy answers) ------------------------------------------------

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
            if ignore_missing(lambda i=ip: self._ipr.neigh("del", ifindex=index, dst=i)):
                removed += 1
        for ip, mac in sorted(want - have):
            self._ipr.neigh("replace", ifindex=index, dst=ip, lladdr=mac, state=NUD_PERMANENT)
            added += 1
        return added, removed
