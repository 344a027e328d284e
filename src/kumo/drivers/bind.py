"""BIND 9.18 (Debian's ``bind9``) as a second secondary of kumo's zone-transfer source.

The operator's own servers are often BIND: this shows one following kumo the standard
way, with nothing kumo-specific in its configuration. ``catalog-zones`` (RFC 9432
consumer, BIND ≥ 9.18) adds and drops member zones; the TSIG key signs its requests to
the primary (``server`` clause) and is required of NOTIFYs. It listens on loopback
only, no recursion, no rndc channel. Detached with a pidfile, like ``knot``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from . import procs
from .dns_secondary import CATALOG, Daemon, Secondary

_NAMED = Daemon("named", "named.conf", "named.pid")


def available() -> bool:
    return shutil.which("named") is not None


def config_text(s: Secondary) -> str:
    d, (ph, pp) = s.run_dir, s.primary
    return f"""key "{s.key_name}" {{ algorithm {s.algorithm}; secret "{s.key_secret}"; }};
server {ph} {{ keys {{ "{s.key_name}"; }}; }};
controls {{ }};
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    listen-on port {s.listen[1]} {{ {s.listen[0]}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-new-zones yes;
    allow-notify {{ key "{s.key_name}"; }};
    allow-query {{ any; }};
    catalog-zones {{
        zone "{CATALOG}" default-primaries {{ {ph} port {pp} key "{s.key_name}"; }}
            in-memory yes min-update-interval 0;
    }};
}};
zone "{CATALOG}" {{
    type secondary;
    file "{d}/catalog.db";
    primaries {{ {ph} port {pp} key "{s.key_name}"; }};
}};
"""


def write_config(s: Secondary) -> Path:
    s.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return _NAMED.write_config(s, config_text(s))


def pid(s: Secondary) -> int | None:
    return _NAMED.pid(s)


def start(s: Secondary) -> int:
    running = pid(s)
    if running is not None:
        return running
    conf = write_config(s)
    proc = procs.spawn_detached(["named", "-g", "-c", str(conf)], s.run_dir / "named.log")
    return proc.pid


async def stop(s: Secondary, timeout: float = 5.0) -> None:
    await _NAMED.stop(s, timeout)
