"""dnsmasq as the DHCP server of one network, inside that network's namespace.

Fixed leases only: every address is a static host entry (`MAC,IP,hostname`) and
each subnet is a `static` dhcp-range, so a MAC we do not know gets nothing. DNS is
off (`--port=0`). Per network, under `<state_dir>/<network id>/`::

    hosts         --dhcp-hostsfile  (reread on SIGHUP)
    opts          --dhcp-optsfile   (reread on SIGHUP)
    leases        --dhcp-leasefile
    dnsmasq.log   --log-facility, with --log-dhcp
    pid           --pid-file
    start.err     output of the last start attempt

dnsmasq daemonizes itself (started through `ip netns exec`), so it outlives the
agent; a later `Dnsmasq` for the same network adopts it from the pidfile after
checking /proc: the cmdline must be exactly the argv we would start now, and the
process must sit in our namespace. Anything else in the argv (ranges, interface,
namespace) changing means a restart; only hosts/opts changing means SIGHUP.

It runs as root (`--user=root`): dropped to nobody, dnsmasq silently fails to
(re)read hosts/opts when any parent of the state dir is not world-searchable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import netns as netns_mod
from .qemu_proc import alive, wait_gone

log = logging.getLogger(__name__)

METADATA_ROUTE = "169.254.169.254/32"
DEFAULT_ROUTE = "0.0.0.0/0"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
_POLL = 0.05
_READ_CHUNK = 1 << 20

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_SUBNET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,14}$")


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


class Dnsmasq:
    """The dnsmasq of one network: converge with `ensure`, adopt across agent restarts."""

    def __init__(self, network_id: str, netns: str, interface: str, state_dir: Path,
                 binary: str = "dnsmasq") -> None:
        try:
            canonical = str(uuid.UUID(network_id))
        except (ValueError, TypeError, AttributeError) as e:
            raise InvalidDhcpConfig(f"network id {network_id!r} is not a UUID") from e
        if canonical != network_id:
            raise InvalidDhcpConfig(f"network id {network_id!r} is not a lower-case UUID")
        try:
            netns_mod.validate_name(netns)
        except netns_mod.NetnsError as e:
            raise InvalidDhcpConfig(str(e)) from e
        if not isinstance(interface, str) or not _IFNAME.match(interface):
            raise InvalidDhcpConfig(f"interface {interface!r} is not an interface name")
        self.network_id = network_id
        self.netns = netns
        self.interface = interface
        self.binary = binary
        self.dir = Path(state_dir).absolute() / network_id
        self.pidfile = self.dir / "pid"
        self.hosts_file = self.dir / "hosts"
        self.opts_file = self.dir / "opts"
        self.lease_file = self.dir / "leases"
        self.log_file = self.dir / "dnsmasq.log"
        self.start_err = self.dir / "start.err"
        self._lock = asyncio.Lock()
        self._log_pos = 0
        self._log_ino: int | None = None
        self._acks = 0
        self._naks = 0

    def argv(self, subnets: list[DhcpSubnet]) -> list[str]:
        """dnsmasq's own argv (without the `ip netns exec` prefix); subnets sorted by id."""
        argv = [
            self.binary,
            "--conf-file=/dev/null",
            "--no-hosts",
            "--no-resolv",
            "--port=0",
            "--user=root",
            "--group=root",
            "--bind-interfaces",
            f"--interface={self.interface}",
            "--except-interface=lo",
            f"--pid-file={self.pidfile}",
            f"--dhcp-hostsfile={self.hosts_file}",
            f"--dhcp-optsfile={self.opts_file}",
            f"--dhcp-leasefile={self.lease_file}",
            "--log-dhcp",
            f"--log-facility={self.log_file}",
        ]
        for s in subnets:
            net = s.network
            argv.append(f"--dhcp-range=set:{s.tag},{net.network_address},static,"
                        f"{net.netmask},{s.lease_seconds}s")
        return argv

    async def ensure(self, subnets: list[DhcpSubnet], hosts: list[DhcpHost],
                     server_ip: str) -> str:
        """Converge; returns "started", "reloaded", "unchanged" or "restarted"."""
        server = _ipv4(server_ip, "server ip")
        if not subnets:
            raise InvalidDhcpConfig("dnsmasq needs at least one subnet (stop() it instead)")
        ordered = sorted(subnets, key=lambda s: s.subnet_id)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if a.subnet_id == b.subnet_id:
                raise InvalidDhcpConfig(f"subnet {a.subnet_id} given twice")
        hosts_text = render_hosts(ordered, hosts)
        opts_text = render_opts(ordered, server)
        argv = self.argv(ordered)
        async with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True)
            changed = _write_if_changed(self.hosts_file, hosts_text)
            changed = _write_if_changed(self.opts_file, opts_text) or changed
            had_pidfile = self.pidfile.exists()
            pid = self.pid()
            if pid is not None:
                if _cmdline(pid) == argv and self._in_our_netns(pid):
                    if not changed:
                        return "unchanged"
                    if self._has_stale_leases(hosts):
                        # dnsmasq keeps honouring a lease of a removed port, so a new port
                        # given the same address would get nothing until it expires. It
                        # reads the lease file only at start: prune it and restart.
                        await self._terminate(pid)
                        self._prune_leases(hosts)
                        await self._start(argv)
                        log.info("dnsmasq %s restarted without stale leases", self.network_id)
                        return "reloaded"
                    os.kill(pid, signal.SIGHUP)
                    log.info("dnsmasq %s (pid %d) reloaded", self.network_id, pid)
                    return "reloaded"
                log.info("dnsmasq %s (pid %d) has a stale command line; restarting",
                         self.network_id, pid)
                await self._terminate(pid)
                await self._start(argv)
                return "restarted"
            await self._start(argv)
            return "restarted" if had_pidfile else "started"

    def pid(self) -> int | None:
        """The running dnsmasq for this network, from the pidfile, checked in /proc."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid <= 1 or not alive(pid) or not self._is_ours(pid):
            return None
        return pid

    async def stop(self) -> None:
        """Stop dnsmasq (TERM, then KILL); leases and logs stay. A no-op when not running."""
        async with self._lock:
            pid = self.pid()
            if pid is not None:
                await self._terminate(pid)
            self.pidfile.unlink(missing_ok=True)

    def stats(self) -> dict:
        """{"up", "leases" (lines in the leasefile), "acks", "naks" (seen in the log)}."""
        self._scan_log()
        return {"up": self.pid() is not None, "leases": self._count_leases(),
                "acks": self._acks, "naks": self._naks}

    # -- internals --------------------------------------------------------------

    def _lease_lines(self) -> list[str]:
        try:
            return self.lease_file.read_text().splitlines()
        except OSError:
            return []

    @staticmethod
    def _lease_ok(line: str, keep: set[tuple[str, str]]) -> bool:
        parts = line.split()
        return len(parts) < 3 or (parts[1].lower(), parts[2]) in keep

    def _has_stale_leases(self, hosts: list[DhcpHost]) -> bool:
        keep = {(h.mac, h.ip) for h in hosts}
        return not all(self._lease_ok(line, keep) for line in self._lease_lines())

    def _prune_leases(self, hosts: list[DhcpHost]) -> None:
        keep = {(h.mac, h.ip) for h in hosts}
        lines = [line for line in self._lease_lines() if self._lease_ok(line, keep)]
        _write_if_changed(self.lease_file, "".join(f"{line}\n" for line in lines))

    def _is_ours(self, pid: int) -> bool:
        args = _cmdline(pid)
        if not args or not os.path.basename(args[0]).startswith("dnsmasq"):
            return False
        return f"--pid-file={self.pidfile}" in args

    def _in_our_netns(self, pid: int) -> bool:
        try:
            want = os.stat(netns_mod.path(self.netns))
            have = os.stat(f"/proc/{pid}/ns/net")
        except OSError:
            return False
        return (want.st_dev, want.st_ino) == (have.st_dev, have.st_ino)

    async def _start(self, argv: list[str]) -> None:
        self.pidfile.unlink(missing_ok=True)
        full = ["ip", "netns", "exec", self.netns, *argv]
        with open(self.start_err, "wb") as err:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *full, stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err,
                    start_new_session=True)
            except OSError as e:
                raise DnsmasqError(f"cannot run {full[0]}: {e}") from e
        try:
            rc = await asyncio.wait_for(proc.wait(), START_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise DnsmasqError(f"dnsmasq for {self.network_id} did not daemonize in "
                               f"{START_TIMEOUT:.0f}s") from None
        if rc != 0:
            raise DnsmasqError(f"dnsmasq for {self.network_id} failed to start (exit {rc}): "
                               f"{self._err_tail()}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while (pid := self.pid()) is None:
            if loop.time() >= deadline:
                raise DnsmasqError(f"dnsmasq for {self.network_id} started but wrote no "
                                   f"usable pidfile: {self._err_tail()}")
            await asyncio.sleep(_POLL)
        log.info("dnsmasq %s started in %s (pid %d)", self.network_id, self.netns, pid)

    async def _terminate(self, pid: int) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self._is_ours(pid):
                return
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            if await wait_gone(pid, STOP_TIMEOUT):
                return
        raise DnsmasqError(f"dnsmasq {pid} for {self.network_id} survived SIGKILL")

    def _err_tail(self) -> str:
        try:
            return self.start_err.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return ""

    def _count_leases(self) -> int:
        try:
            text = self.lease_file.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines()
                   if line.strip() and not line.startswith("duid "))

    def _scan_log(self) -> None:
        """Count DHCPACK/DHCPNAK lines added since the last call; restart on truncation."""
        try:
            f = open(self.log_file, "rb")
        except OSError:
            return
        with f:
            st = os.fstat(f.fileno())
            if st.st_ino != self._log_ino or st.st_size < self._log_pos:
                self._log_ino = st.st_ino
                self._log_pos = 0
            f.seek(self._log_pos)
            while True:
                chunk = f.read(_READ_CHUNK)
                end = chunk.rfind(b"\n") + 1
                if end == 0:
                    break  # nothing, or only a partial line still being written
                for line in chunk[:end].splitlines():
                    if b" DHCPACK(" in line:
                        self._acks += 1
                    elif b" DHCPNAK(" in line:
                        self._naks += 1
                self._log_pos += end
                f.seek(self._log_pos)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1] if raw else []


def _write_if_changed(target: Path, text: str) -> bool:
    """Atomically replace target with text (tmp + rename); False when it already matches."""
    try:
        if target.read_text() == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return True
