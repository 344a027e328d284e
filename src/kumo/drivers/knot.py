"""Knot DNS (Debian's ``knot``) as a secondary of kumo's zone-transfer source.

Knot 3.2 is the default target: it interprets catalog zones (RFC 9432) natively
(``catalog-role: interpret``), so one static configuration follows every zone kumo adds
or drops (template ``static`` is for a zone an operator loads from a file); it takes NOTIFY and IXFR, and keeps zones in its journal across restarts. The
configuration names one primary (the source, TSIG key included), one catalog zone and a
template for its members; it listens only on the given loopback address. The process
runs detached (its own session) with a pidfile in its run directory, so it outlives an
agent restart and is adopted by pidfile.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
from pathlib import Path

from . import procs
from .dns_secondary import CATALOG, Daemon, Secondary

_KNOT = Daemon("knotd", "knot.conf", "knot.pid")


def available() -> bool:
    return shutil.which("knotd") is not None


def config_text(s: Secondary) -> str:
    d = s.run_dir
    return f"""server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: {s.listen[0]}@{s.listen[1]}
    tcp-workers: 2
    udp-workers: 2
    background-workers: 2

log:
  - target: stderr
    any: info

database:
    storage: "{d}/db"

control:
    listen: "{d}/knot.sock"

key:
  - id: {s.key_name}
    algorithm: {s.algorithm}
    secret: {s.key_secret}

remote:
  - id: kumo
    address: {s.primary[0]}@{s.primary[1]}
    key: {s.key_name}

acl:
  - id: kumo-notify
    address: {s.primary[0]}
    key: {s.key_name}
    action: notify

{_templates(d)}zone:
  - domain: {CATALOG}
    catalog-role: interpret
    catalog-template: member
"""


def _templates(d: Path) -> str:
    """Zone templates: ``default`` and ``member`` follow kumo; ``static`` loads a file."""
    follow = f"""    storage: "{d}/zones"
    master: kumo
    acl: kumo-notify
    zonefile-sync: -1
    zonefile-load: none
    journal-content: all
"""
    return f"""template:
  - id: default
{follow}    semantic-checks: off
  - id: member
{follow}  - id: static
    storage: "{d}/zones"
    zonefile-load: whole
    zonefile-sync: -1

"""


def write_config(s: Secondary) -> Path:
    for sub in ("db", "zones"):
        (s.run_dir / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    return _KNOT.write_config(s, config_text(s))


def pid(s: Secondary) -> int | None:
    return _KNOT.pid(s)


def start(s: Secondary, *, die_with_parent: bool = False) -> int:
    """Start knotd (or adopt the one running); its pid. ``die_with_parent``: the kernel
    sends it SIGTERM when this process exits, however it exits (``kumo up``'s own server,
    which must not outlive it)."""
    running = pid(s) or _KNOT.scan(s)
    if running is not None:
        return running
    conf = write_config(s)
    argv = ["knotd", "-c", str(conf)]
    if not die_with_parent:
        return procs.spawn_detached(argv, s.run_dir / "knot.log").pid
    with open(s.run_dir / "knot.log", "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,  # noqa: S603
                                stderr=subprocess.STDOUT, close_fds=True,
                                preexec_fn=_parent_death_signal)  # noqa: PLW1509
    return proc.pid


def _parent_death_signal() -> None:
    """In the child before exec: SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)


async def stop(s: Secondary, timeout: float = 5.0) -> None:
    await _KNOT.stop(s, timeout)
