"""Input checks of the network drivers, shared by LinuxNet and FakeNet so both
refuse the same input with the same `NetDriverError`, and the observed-device type."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_NETNS = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


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


def validate_port(name: str, bridge: str, mtu: int) -> None:
    """A device `name` plugged into `bridge` with `mtu` (taps, VXLAN devices)."""
    validate_ifname(name)
    validate_ifname(bridge)
    validate_mtu(mtu)


def validate_vxlan(name: str, vni: int, local_ip: str, bridge: str, mtu: int) -> str:
    """The arguments of ensure_vxlan; returns the normalised local address."""
    validate_port(name, bridge, mtu)
    validate_vni(vni)
    return validate_ip(local_ip)


def validate_veth(host_if: str, ns_if: str, netns: str, bridge: str, mtu: int, mac: str,
                  addresses: Iterable[str]) -> tuple[str, set[str]]:
    """The arguments of ensure_veth_netns; returns (normalised MAC, CIDRs)."""
    validate_port(host_if, bridge, mtu)
    validate_ifname(ns_if)
    validate_netns(netns)
    return validate_mac(mac), validate_cidrs(addresses)
