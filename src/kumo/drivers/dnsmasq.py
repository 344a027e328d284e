"""dnsmasq as the DHCP server of one network, inside that network's namespace.

What it serves is rendered in dnsmasq_config.py (fixed leases only, DNS off);
the lease file and log are handled in dnsmasq_files.py. This module runs the
process. Per network, under `<state_dir>/<network id>/`::

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
import logging
import os
import re
import signal
from pathlib import Path

from . import netns as netns_mod
from . import procs
from .compute import validate_id
from .dnsmasq_config import (
    DEFAULT_ROUTE,
    METADATA_ROUTE,
    DhcpHost,
    DhcpSubnet,
    DnsmasqError,
    InvalidDhcpConfig,
    classless_routes,
    render,
    render_hosts,
    render_opts,
)
from .dnsmasq_files import Leases, LogCounter, write_if_changed

__all__ = ["DEFAULT_ROUTE", "METADATA_ROUTE", "DhcpHost", "DhcpSubnet", "Dnsmasq",
           "DnsmasqError", "InvalidDhcpConfig", "classless_routes", "render_hosts",
           "render_opts"]
log = logging.getLogger(__name__)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
_POLL = 0.05
_IFNAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,14}$")


def _check_ids(network_id: str, netns: str, interface: str) -> None:
    validate_id(network_id, "network id", InvalidDhcpConfig)
    try:
        netns_mod.validate_name(netns)
    except netns_mod.NetnsError as e:
        raise InvalidDhcpConfig(str(e)) from e
    if not isinstance(interface, str) or not _IFNAME.match(interface):
        raise InvalidDhcpConfig(f"interface {interface!r} is not an interface name")


class Dnsmasq:
    """The dnsmasq of one network: converge with `ensure`, adopt across agent restarts."""

    def __init__(self, network_id: str, netns: str, interface: str, state_dir: Path,
                 binary: str = "dnsmasq") -> None:
        _check_ids(network_id, netns, interface)
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
        self._leases = Leases(self.lease_file)
        self._log = LogCounter(self.log_file)

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
        want = render(subnets, hosts, server_ip)
        argv = self.argv(want.subnets)
        async with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True)
            changed = write_if_changed(self.hosts_file, want.hosts)
            changed = write_if_changed(self.opts_file, want.opts) or changed
            had_pidfile = self.pidfile.exists()
            pid = self.pid()
            if pid is None:
                await self._start(argv)
                return "restarted" if had_pidfile else "started"
            if procs.cmdline(pid) != argv or not netns_mod.holds(self.netns, pid):
                log.info("dnsmasq %s (pid %d) has a stale command line; restarting",
                         self.network_id, pid)
                await self._restart(pid, argv)
                return "restarted"
            if not changed:
                return "unchanged"
            if self._leases.has_stale(hosts):
                # dnsmasq keeps honouring a lease of a removed port, so a new port given
                # the same address would get nothing until it expires. It reads the lease
                # file only at start: prune it and restart.
                await self._restart(pid, argv, prune=hosts)
                log.info("dnsmasq %s restarted without stale leases", self.network_id)
                return "reloaded"
            os.kill(pid, signal.SIGHUP)
            log.info("dnsmasq %s (pid %d) reloaded", self.network_id, pid)
            return "reloaded"

    def pid(self) -> int | None:
        """The running dnsmasq for this network, from the pidfile, checked in /proc."""
        pid = procs.read_pid(self.pidfile)
        return pid if pid is not None and self._is_ours(pid) else None

    async def stop(self) -> None:
        """Stop dnsmasq (TERM, then KILL); leases and logs stay. A no-op when not running."""
        async with self._lock:
            pid = self.pid()
            if pid is not None:
                await self._terminate(pid)
            self.pidfile.unlink(missing_ok=True)

    def stats(self) -> dict:
        """{"up", "leases" (lines in the leasefile), "acks", "naks" (seen in the log)}."""
        self._log.scan()
        return {"up": self.pid() is not None, "leases": self._leases.count(),
                "acks": self._log.acks, "naks": self._log.naks}

    # -- internals --------------------------------------------------------------

    def _is_ours(self, pid: int) -> bool:
        args = procs.cmdline(pid)
        if not args or not os.path.basename(args[0]).startswith("dnsmasq"):
            return False
        return f"--pid-file={self.pidfile}" in args

    async def _restart(self, pid: int, argv: list[str],
                       prune: list[DhcpHost] | None = None) -> None:
        await self._terminate(pid)
        if prune is not None:
            self._leases.prune(prune)
        await self._start(argv)

    async def _terminate(self, pid: int) -> None:
        try:
            await procs.terminate(pid, self._is_ours, STOP_TIMEOUT, f"dnsmasq {self.network_id}")
        except procs.ProcessError as e:
            raise DnsmasqError(str(e)) from e

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

    def _err_tail(self) -> str:
        try:
            return self.start_err.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return ""
