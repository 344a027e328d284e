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
owns the pyroute2 `IPRoute` socket (linuxnet_worker.py), so `LinuxNet(netns="x")`
programs namespace x. Tap creation goes through an ioctl on /dev/net/tun from that
same thread, so taps also land in the driver's namespace.

The parts: input checks (netvalidate.py, shared with FakeNet), the worker
(linuxnet_worker.py), host-side devices (linuxnet_devices.py), veth pairs into a
namespace with their addresses (linuxnet_veth.py), FDB and neighbours
(linuxnet_l2.py); this module composes them and handles named namespaces.

Every failure is a `NetDriverError` whose message names the operation and device.
"""

from __future__ import annotations

import errno

from .linuxnet_devices import DEFAULT_PREFIXES, VXLAN_PORT, DeviceOps
from .linuxnet_l2 import FLOOD_MAC, NUD_PERMANENT, L2Ops
from .linuxnet_veth import VethOps
from .linuxnet_worker import describe, netns_exists
from .netns import CLONE_NEWNET, NETNS_DIR
from .netns import setns as _setns_fd
from .netvalidate import (
    LinkInfo,
    NetDriverError,
    validate_cidrs,
    validate_fdb,
    validate_ifname,
    validate_ip,
    validate_mac,
    validate_mtu,
    validate_neighbours,
    validate_netns,
    validate_vni,
)

__all__ = [
    "CLONE_NEWNET", "DEFAULT_PREFIXES", "FLOOD_MAC", "NETNS_DIR", "NUD_PERMANENT", "VXLAN_PORT",
    "LinkInfo", "LinuxNet", "NetDriverError", "_setns_fd", "validate_cidrs", "validate_fdb",
    "validate_ifname", "validate_ip", "validate_mac", "validate_mtu", "validate_neighbours",
    "validate_netns", "validate_vni",
]


class LinuxNet(DeviceOps, VethOps, L2Ops):
    """Programs bridges, VXLAN and l2pop state with netlink (pyroute2)."""

    def __enter__(self) -> LinuxNet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        if not netns_exists(name):
            return False
        from pyroute2 import netns as pnetns

        try:
            pnetns.remove(name)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return False
            raise NetDriverError(f"delete_netns {name}: {describe(e)}") from e
        return True
