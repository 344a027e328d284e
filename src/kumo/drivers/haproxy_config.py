"""HAProxy configuration for one load balancer, rendered from a plan of ids and numbers.

Every name in the file derives from an id (``l<listener id>``, ``p<pool id>``,
``m<member id>``); no user text (names, descriptions) reaches it, and every value is
validated (addresses parsed, ports and weights ranged, paths and codes matched) before it
is written. The plan is plain data so the agent builds it and the driver diffs two plans:
a change of members only goes through the runtime API (haproxy.py), anything else is a
new file and a seamless reload.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

from .haproxy_l7 import PolicyPlan, frontend_lines

_ID = re.compile(r"^[0-9a-f-]{36}$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$")
_CODES = re.compile(r"^\d{3}([-,]\d{3})*$")
_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "PATCH", "CONNECT"}
ALGORITHMS = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn",
              "SOURCE_IP": "source"}


class ConfigError(ValueError):
    """A plan that cannot be rendered safely."""


@dataclass(frozen=True)
class MemberPlan:
    id: str
    address: str
    port: int
    weight: int = 1
    backup: bool = False
    enabled: bool = True
    monitor_address: str | None = None
    monitor_port: int | None = None


@dataclass(frozen=True)
class MonitorPlan:
    type: str  # TCP | HTTP | HTTPS | PING | TLS-HELLO
    delay: int
    timeout: int
    rise: int
    fall: int
    method: str = "GET"
    path: str = "/"
    codes: str = "200"


@dataclass(frozen=True)
class PoolPlan:
    id: str
    protocol: str  # TCP | HTTP | HTTPS | PROXY
    algorithm: str
    members: tuple[MemberPlan, ...] = ()
    monitor: MonitorPlan | None = None
    persistence: str | None = None  # SOURCE_IP | HTTP_COOKIE | APP_COOKIE
    cookie: str | None = None


@dataclass(frozen=True)
class ListenerPlan:
    id: str
    protocol: str  # TCP | HTTP | HTTPS (pass-through)
    port: int
    pool_id: str | None
    enabled: bool = True
    connection_limit: int = -1
    timeout_client: int = 50000
    timeout_connect: int = 5000
    timeout_server: int = 50000
    forwarded_for: bool = False
    allowed_cidrs: tuple[str, ...] = ()
    policies: tuple[PolicyPlan, ...] = ()


@dataclass(frozen=True)
class LbPlan:
    lb_id: str
    vip: str
    listeners: tuple[ListenerPlan, ...] = ()
    pools: tuple[PoolPlan, ...] = ()
    enabled: bool = True
    run_dir: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def without_members(self) -> LbPlan:
        """The plan with members left out: equal before and after means members only."""
        return replace(self, pools=tuple(replace(p, members=()) for p in self.pools))


def _id(value: str) -> str:
    if not _ID.match(value):
        raise ConfigError(f"not an id: {value!r}")
    return value


def _ip(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError as exc:
        raise ConfigError(f"not an IPv4 address: {value!r}") from exc


def _int(value: int, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{value!r} not in [{lo}, {hi}]")
    return value


def mode(protocol: str) -> str:
    return "http" if protocol == "HTTP" else "tcp"


def server_args(pool: PoolPlan, m: MemberPlan) -> str:
    """What follows ``server m<id>`` (also the runtime API's ``add server``: dynamic
    servers inherit no default-server line, so everything is spelled out)."""
    args = [f"{_ip(m.address)}:{_int(m.port, 1, 65535)}", f"weight {_int(m.weight, 0, 256)}",
            # a dynamic server's idle pool is off by default: every request would connect
            "pool-max-conn -1", "pool-purge-delay 5s"]
    if m.backup:
        args.append("backup")
    mon = pool.monitor
    if mon is not None:
        args.append(f"check inter {_int(mon.delay, 1, 86400)}s fall {_int(mon.fall, 1, 10)} "
                    f"rise {_int(mon.rise, 1, 10)}")
        if m.monitor_address:
            args.append(f"addr {_ip(m.monitor_address)}")
        if m.monitor_port:
            args.append(f"port {_int(m.monitor_port, 1, 65535)}")
    if pool.persistence == "HTTP_COOKIE" and mode(pool.protocol) == "http":
        args.append(f"cookie {_id(m.id)}")
    return " ".join(args)


def _frontend(lb: LbPlan, x: ListenerPlan) -> list[str]:
    lines = [f"frontend l{_id(x.id)}", f"    mode {mode(x.protocol)}",
             f"    bind {_ip(lb.vip)}:{_int(x.port, 1, 65535)}",
             f"    timeout client {_int(x.timeout_client, 0, 86400000)}ms"]
    if x.connection_limit > 0:
        lines.append(f"    maxconn {_int(x.connection_limit, 1, 1000000)}")
    if x.allowed_cidrs:
        cidrs = " ".join(str(ipaddress.IPv4Network(c, strict=False)) for c in x.allowed_cidrs)
        lines += [f"    acl allowed src {cidrs}", "    tcp-request connection reject "
                  "if !allowed"]
    if x.forwarded_for and x.protocol == "HTTP":
        lines.append("    option forwardfor")
    if not x.enabled or not lb.enabled:
        lines.append("    disabled")
    if x.policies and mode(x.protocol) == "http":
        lines += frontend_lines(x.policies, {p.id for p in lb.pools})
    if x.pool_id:
        lines.append(f"    default_backend p{_id(x.pool_id)}")
    return lines


def _check_lines(pool: PoolPlan) -> list[str]:
    mon = pool.monitor
    if mon is None:
        return []
    lines = [f"    timeout check {_int(mon.timeout, 1, 86400)}s"]
    if mon.type in ("HTTP", "HTTPS") and mode(pool.protocol) == "http":
        if mon.method not in _METHODS or not _PATH.match(mon.path) or \
                not _CODES.match(mon.codes):
            raise ConfigError("bad HTTP check")
        codes = "|".join(mon.codes.replace("-", ",").split(","))
        lines += [f"    option httpchk {mon.method} {mon.path}",
                  f"    http-check expect rstatus ^({codes})$"]
    return lines


def _backend(pool: PoolPlan, timeouts: ListenerPlan | None) -> list[str]:
    algo = ALGORITHMS.get(pool.algorithm)
    if algo is None:
        raise ConfigError(f"algorithm {pool.algorithm!r}")
    lines = [f"backend p{_id(pool.id)}", f"    mode {mode(pool.protocol)}",
             f"    balance {algo}"]
    if algo == "source":
        lines.append("    hash-type consistent")  # the runtime API's servers need it
    if timeouts is not None:
        lines += [f"    timeout connect {_int(timeouts.timeout_connect, 0, 86400000)}ms",
                  f"    timeout server {_int(timeouts.timeout_server, 0, 86400000)}ms"]
    if pool.persistence == "SOURCE_IP":
        lines += ["    stick-table type ip size 10k expire 30m", "    stick on src"]
    elif pool.persistence == "HTTP_COOKIE" and mode(pool.protocol) == "http":
        lines.append("    cookie SRV insert indirect nocache")
    if pool.protocol == "PROXY":
        lines.append("    default-server send-proxy")
    lines += _check_lines(pool)
    for m in pool.members:
        line = f"    server m{_id(m.id)} {server_args(pool, m)}"
        lines.append(line if m.enabled else line + " disabled")
    return lines


def render(lb: LbPlan, run_dir: str) -> str:
    """The whole file: the master-worker globals, one frontend per listener, one backend
    per pool. The stats socket exposes the listeners' fds, so a reload never closes one."""
    _id(lb.lb_id)
    out = ["global", "    master-worker",
           f"    stats socket {run_dir}/stats.sock mode 600 level admin expose-fd listeners",
           "    stats timeout 30s", "    maxconn 4096", "",
           "defaults", "    timeout connect 5s", "    timeout client 50s",
           "    timeout server 50s", "    option redispatch", "    retries 3",
           "    option dontlognull", ""]
    by_pool = {x.pool_id: x for x in lb.listeners if x.pool_id}
    for x in lb.listeners:
        out += [*_frontend(lb, x), ""]
    for pool in lb.pools:
        out += [*_backend(pool, by_pool.get(pool.id)), ""]
    if not lb.listeners:  # HAProxy wants one proxy at least; nothing listens on it
        out += ["backend kumo-empty", "    mode tcp", ""]
    return "\n".join(out)
