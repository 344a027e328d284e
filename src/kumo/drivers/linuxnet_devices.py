"""LinuxNet's devices on the host side: bridges, VXLAN devices, taps; list, delete.

Each `ensure_*` validates its input on the caller's thread, then converges on
the netlink worker: create what is missing, recreate what has the wrong kind or
identity (a VXLAN device with another VNI), fix MTU/master/up in place.
"""

from __future__ import annotations

import errno
from pathlib import Path

from .linuxnet_worker import NetlinkWorker, parse_link
from .netvalidate import (
    LinkInfo,
    NetDriverError,
    validate_ifname,
    validate_mtu,
    validate_port,
    validate_vxlan,
)

VXLAN_PORT = 4789
DEFAULT_PREFIXES = ("brq", "vxlan-", "tap")


class DeviceOps(NetlinkWorker):
    def links(self, prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> dict[str, LinkInfo]:
        """Devices whose name starts with one of `prefixes` (all devices for ())."""
        return self._run("links", self._links, tuple(prefixes))

    def _links(self, prefixes: tuple[str, ...]) -> dict[str, LinkInfo]:
        all_links = [parse_link(m) for m in self._ipr.get_links()]
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
        local = validate_vxlan(name, vni, local_ip, bridge, mtu)
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
        validate_port(name, bridge, mtu)
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
