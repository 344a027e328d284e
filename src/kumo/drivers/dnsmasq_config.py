"""dnsmasq's configuration for one network: validated inputs and the files it reads.

Fixed leases only: every address is a static host entry (`MAC,IP,hostname`) in
the hosts file and each subnet is a `static` dhcp-range, so a MAC we do not know
gets nothing. The opts file carries per-subnet MTU, router, DNS servers and the
classless static routes (the metadata route first). Everything here is pure:
no processes, no files.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import NamedTuple

log = logging.getLogger("kumo.drivers.dnsmasq")

METADATA_ROUTE = "169.254.169.254/32"
DEFAULT_ROUTE = "0.0.0.0/0"

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_SUBNET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DnsmasqError(Exception):
    """dnsmasq could not be configured, started or stopped."""


class InvalidDhcpConfig(DnsmasqError, ValueError):
    """The request itself is wrong; retrying will not help."""


def _ipv4(value: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError) as e:
        raise InvalidDhcpConfig(f"{what} {value!r} is not an IPv4 address") from e


def _ipv4_net(value: str, what: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except (ValueError, TypeError) as e:
        raise InvalidDhcpConfig(f"{what} {value!r} is not an IPv4 network") from e


@dataclass(frozen=True)
class DhcpHost:
    """One fixed lease; the MAC is normalised to lower case."""

    mac: str
    ip: str
    hostname: str

    def __post_init__(self) -> None:
        mac = str(self.mac).lower()
        if not _MAC.match(mac):
            raise InvalidDhcpConfig(f"MAC {self.mac!r} is not aa:bb:cc:dd:ee:ff")
        if not isinstance(self.hostname, str) or not _HOSTNAME.match(self.hostname):
            raise InvalidDhcpConfig(f"hostname {self.hostname!r} is not a DNS label")
        object.__setattr__(self, "mac", mac)
        object.__setattr__(self, "ip", _ipv4(self.ip, "host ip"))


@dataclass(frozen=True)
class DhcpSubnet:
    """One IPv4 subnet served with static leases; host_routes are (destination, nexthop)."""

    subnet_id: str
    cidr: str
    gateway: str | None
    dns: tuple[str, ...]
    host_routes: tuple[tuple[str, str], ...]
    mtu: int
    lease_seconds: int = 86400

    def __post_init__(self) -> None:
        if not isinstance(self.subnet_id, str) or not _SUBNET_ID.match(self.subnet_id):
            raise InvalidDhcpConfig(f"subnet id {self.subnet_id!r} is not a plain id")
        net = _ipv4_net(self.cidr, "cidr")
        object.__setattr__(self, "cidr", str(net))
        if self.gateway is not None:
            gw = _ipv4(self.gateway, "gateway")
            if ipaddress.IPv4Address(gw) not in net:
                raise InvalidDhcpConfig(f"gateway {gw} is outside {net}")
            object.__setattr__(self, "gateway", gw)
        object.__setattr__(self, "dns", tuple(_ipv4(d, "dns server") for d in self.dns))
        routes = []
        for dest, nexthop in self.host_routes:
            routes.append((str(_ipv4_net(dest, "route destination")),
                           _ipv4(nexthop, "route nexthop")))
        object.__setattr__(self, "host_routes", tuple(routes))
        if not isinstance(self.mtu, int) or not 68 <= self.mtu <= 65535:
            raise InvalidDhcpConfig(f"mtu {self.mtu!r} is out of range")
        if not isinstance(self.lease_seconds, int) or self.lease_seconds < 120:
            raise InvalidDhcpConfig(f"lease time {self.lease_seconds!r}s is under 120s")

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.cidr)

    @property
    def tag(self) -> str:
        return f"subnet-{self.subnet_id}"


def render_hosts(subnets: list[DhcpSubnet], hosts: list[DhcpHost]) -> str:
    """The dhcp-hostsfile: sorted, deduplicated; hosts outside every subnet are skipped."""
    nets = [s.network for s in subnets]
    by_ip: dict[str, str] = {}
    lines = set()
    for h in hosts:
        addr = ipaddress.IPv4Address(h.ip)
        if not any(addr in n for n in nets):
            log.warning("DHCP host %s %s is in no served subnet; skipped", h.mac, h.ip)
            continue
        if by_ip.setdefault(h.ip, h.mac) != h.mac:
            raise InvalidDhcpConfig(f"{h.ip} is given to both {by_ip[h.ip]} and {h.mac}")
        lines.add(f"{h.mac},{h.ip},{h.hostname}\n")
    return "".join(sorted(lines))


def classless_routes(subnet: DhcpSubnet, server_ip: str) -> list[tuple[str, str]]:
    """Option 121/249 routes: metadata first, then host routes, then the default route.

    The metadata route goes via the DHCP port when it is in the subnet, else via the
    gateway, else it is left out. The first route for a destination wins.
    """
    routes: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(dest: str, hop: str) -> None:
        if dest not in seen:
            seen.add(dest)
            routes.append((dest, hop))

    if ipaddress.IPv4Address(server_ip) in subnet.network:
        add(METADATA_ROUTE, server_ip)
    elif subnet.gateway:
        add(METADATA_ROUTE, subnet.gateway)
    for dest, hop in subnet.host_routes:
        add(dest, hop)
    if subnet.gateway:
        add(DEFAULT_ROUTE, subnet.gateway)
    return routes


def render_opts(subnets: list[DhcpSubnet], server_ip: str) -> str:
    """The dhcp-optsfile: per subnet tag, MTU, router (empty without a gateway), DNS, routes."""
    lines = []
    for s in subnets:
        t = f"tag:{s.tag}"
        lines.append(f"{t},option:mtu,{s.mtu}")
        lines.append(f"{t},option:router,{s.gateway}" if s.gateway else f"{t},option:router")
        if s.dns:
            lines.append(f"{t},option:dns-server,{','.join(s.dns)}")
        routes = classless_routes(s, server_ip)
        if routes:
            value = ",".join(f"{d},{h}" for d, h in routes)
            lines.append(f"{t},option:classless-static-route,{value}")
            lines.append(f"{t},249,{value}")
    return "".join(line + "\n" for line in lines)


class Rendered(NamedTuple):
    """What one converge writes: subnets in argv order, and the two files' text."""

    subnets: list[DhcpSubnet]
    hosts: str
    opts: str


def render(subnets: list[DhcpSubnet], hosts: list[DhcpHost], server_ip: str) -> Rendered:
    """Check the whole request (one subnet at least, no id twice) and render it."""
    server = _ipv4(server_ip, "server ip")
    if not subnets:
        raise InvalidDhcpConfig("dnsmasq needs at least one subnet (stop() it instead)")
    ordered = sorted(subnets, key=lambda s: s.subnet_id)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.subnet_id == b.subnet_id:
            raise InvalidDhcpConfig(f"subnet {a.subnet_id} given twice")
    return Rendered(ordered, render_hosts(ordered, hosts), render_opts(ordered, server))
