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
from dataclasses import dataclass
from pathlib import Path

from . import procs

CATALOG = "catalog.kumo."


@dataclass(frozen=True)
class Secondary:
    """Where the server runs and whom it follows."""

    run_dir: Path
    listen: tuple[str, int]
    primary: tuple[str, int]
    key_name: str
    key_secret: str  # base64
    algorithm: str = "hmac-sha256"


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
    return f"""template:
  - id: default
    storage: "{d}/zones"
    master: kumo
    acl: kumo-notify
    zonefile-sync: -1
    zonefile-load: none
    journal-content: all
    semantic-checks: off
  - id: member
    storage: "{d}/zones"
    master: kumo
    acl: kumo-notify
    zonefile-sync: -1
    zonefile-load: none
    journal-content: all
  - id: static
    storage: "{d}/zones"
    zonefile-load: whole
    zonefile-sync: -1

"""


def write_config(s: Secondary) -> Path:
    for sub in ("db", "zones"):
        (s.run_dir / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    path = s.run_dir / "knot.conf"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(config_text(s))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def _scan(s: Secondary) -> int | None:
    """Ours without a pidfile yet (just started): found by our configuration's path."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _ours(s, int(entry.name)) and procs.alive(int(entry.name)):
            return int(entry.name)
    return None


def pid(s: Secondary) -> int | None:
    found = procs.read_pid(s.run_dir / "knot.pid")
    return found if found is not None and _ours(s, found) else None


def _ours(s: Secondary, p: int) -> bool:
    argv = procs.cmdline(p)
    return bool(argv) and argv[0].endswith("knotd") and str(s.run_dir / "knot.conf") in argv


def start(s: Secondary, *, die_with_parent: bool = False) -> int:
    """Start knotd (or adopt the one running); its pid. ``die_with_parent``: the kernel
    sends it SIGTERM when this process exits, however it exits (``kumo up``'s own server,
    which must not outlive it)."""
    running = pid(s) or _scan(s)
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
    running = pid(s) or _scan(s)
    if running is not None:
        await procs.terminate(running, lambda p: _ours(s, p), timeout, "knotd")
