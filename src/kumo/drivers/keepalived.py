"""keepalived (Debian's, VRRP only) in a load balancer's namespace: the building block of
ACTIVE_STANDBY, where two hosts' ``qlb-<id>`` namespaces share the VIP.

As Octavia's amphorae do: both sides start as BACKUP with different priorities and
``nopreempt`` (a recovered host does not take the VIP back under load), VRRPv3 unicast
to the peer's own address (no multicast on the tenant network), the VIP added to the
interface by whichever side is MASTER, gratuitous ARPs on the change so clients and the
bridge learn where it went. Adverts every ``advert_ms`` (VRRPv3 allows centiseconds):
the standby takes over after about 3 missed adverts. HAProxy binds the VIP on both
sides (``ip_nonlocal_bind`` in the namespace), so the standby serves the moment the
address arrives.

    render(plan) -> str
    Keepalived(run_root).start(plan) -> pid      .stop(lb_id), .pid(lb_id)

Every name in the file derives from an id or is a validated address; argv lists only.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .procs import alive, cmdline, read_pid, spawn_detached

_ID = re.compile(r"^[0-9a-f-]{36}$")
_IF = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_NS = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeepalivedError(Exception):
    """keepalived could not be configured or started."""


@dataclass(frozen=True)
class VrrpPlan:
    lb_id: str
    netns: str
    interface: str
    vip: str  # with its prefix, "10.0.0.5/24"
    own_ip: str
    peer_ip: str
    priority: int  # the first-choice side higher (Octavia: 100 / 90)
    advert_ms: int = 200


def router_id(lb_id: str) -> int:
    """A VRID 1..255 from the LB's id (two LBs on one segment rarely collide; each
    instance also authenticates by its unicast peer, so a collision cannot steal a VIP)."""
    return uuid.UUID(lb_id).int % 255 + 1


def _ip(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError as exc:
        raise KeepalivedError(f"not an IPv4 address: {value!r}") from exc


def render(plan: VrrpPlan) -> str:
    if not _ID.match(plan.lb_id) or not _IF.match(plan.interface):
        raise KeepalivedError("bad id or interface")
    vip = ipaddress.IPv4Interface(plan.vip)
    if not 1 <= plan.priority <= 254 or not 10 <= plan.advert_ms <= 255_000:
        raise KeepalivedError("priority or advert out of range")
    return "\n".join([
        "global_defs {", f"    router_id lb-{plan.lb_id[:8]}", "    vrrp_version 3",
        "    vrrp_garp_master_delay 0", "    vrrp_garp_master_repeat 3",
        "    vrrp_garp_master_refresh 10", "}", "",
        f"vrrp_instance lb_{plan.lb_id.replace('-', '')[:16]} {{", "    state BACKUP",
        f"    interface {plan.interface}", f"    virtual_router_id {router_id(plan.lb_id)}",
        f"    priority {plan.priority}", "    nopreempt",
        f"    advert_int {plan.advert_ms / 1000:.2f}",
        f"    unicast_src_ip {_ip(plan.own_ip)}",
        f"    unicast_peer {{\n        {_ip(plan.peer_ip)}\n    }}",
        f"    virtual_ipaddress {{\n        {vip.with_prefixlen} dev {plan.interface}\n    }}",
        "}", ""])


class Keepalived:
    def __init__(self, run_root: Path, binary: str = "keepalived") -> None:
        self.root = run_root
        self.binary = binary

    def dir(self, lb_id: str) -> Path:
        if not _ID.match(lb_id):
            raise KeepalivedError(f"not an id: {lb_id!r}")
        return self.root / lb_id

    def pid(self, lb_id: str) -> int | None:
        """The parent keepalived if it runs with our file (adopted after a restart)."""
        d = self.dir(lb_id)
        pid = read_pid(d / "keepalived.pid")
        return pid if pid is not None and str(d / "keepalived.conf") in cmdline(pid) else None

    def start(self, plan: VrrpPlan) -> int:
        """Write the file, let the namespace bind the VIP before it has it, start."""
        if not _NS.match(plan.netns):
            raise KeepalivedError("bad namespace name")
        d = self.dir(plan.lb_id)
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        conf = d / "keepalived.conf"
        conf.write_text(render(plan))
        subprocess.run(["ip", "netns", "exec", plan.netns, "sysctl", "-q", "-w",
                        "net.ipv4.ip_nonlocal_bind=1"], check=True, capture_output=True)
        res = subprocess.run([self.binary, "-t", "-f", str(conf)], capture_output=True,
                             timeout=30, check=False)
        if res.returncode != 0:
            raise KeepalivedError(f"configuration refused: {res.stderr.decode()[-400:]}")
        old = self.pid(plan.lb_id)
        if old is not None:
            os.kill(old, signal.SIGHUP)  # reload in place: the VRRP state is kept
            return old
        spawn_detached(["ip", "netns", "exec", plan.netns, self.binary, "--vrrp",
                        "--dont-fork", "--log-console", "-f", str(conf),
                        "-p", str(d / "keepalived.pid"), "-r", str(d / "vrrp.pid")],
                       d / "keepalived.log")
        for _ in range(100):
            pid = self.pid(plan.lb_id)
            if pid is not None:
                return pid
            time.sleep(0.05)
        raise KeepalivedError(f"keepalived did not start: {self._log(d)}")

    def _log(self, d: Path) -> str:
        try:
            return (d / "keepalived.log").read_text()[-400:]
        except OSError:
            return ""

    def stop(self, lb_id: str, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: keepalived removes the VIP and sends a priority-0 advert (the peer
        takes over at once); SIGKILL (to the whole session: the VRRP child too) stands
        for a dead host in tests."""
        pid = self.pid(lb_id)
        if pid is not None and alive(pid):
            if sig == signal.SIGKILL:
                os.killpg(pid, sig)  # its own session (spawn_detached): pgid == pid
            else:
                os.kill(pid, sig)
