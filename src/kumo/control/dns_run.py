"""Wiring of DNS serving in the control plane: the TSIG key, the source, the controller.

The key (``dns-tsig.key`` in the data directory, 0600, made on first start) signs every
transfer and NOTIFY; secondaries get it from their configuration.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from kumo import store

from .dns import DnsController, Target
from .dns_xfr import XfrSource

KEY_NAME = "kumo-xfr"
KEY_FILE = "dns-tsig.key"


def load_or_create_key(data_dir: Path) -> tuple[str, str]:
    path = data_dir / KEY_FILE
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = base64.b64encode(os.urandom(32)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
    return KEY_NAME, secret


def parse_targets(text: str) -> list[Target]:
    """``name=host:port,...`` (the operator's own servers, beside kumo's secondary)."""
    out = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, _, where = item.partition("=")
        host, _, port = where.rpartition(":")
        if not name or not host or not port.isdigit():
            raise ValueError(f"dns target {item!r} is not name=host:port")
        out.append(Target(name, host, int(port)))
    return out


async def start(objects: store.ObjectStore, data_dir: Path, listen: str, targets: str,
                error_after: float) -> DnsController:
    """The source listening and the controller made (its ``run`` still to be awaited)."""
    key = load_or_create_key(data_dir)
    source = XfrSource(objects, {key[0]: key[1]})
    host, _, port = listen.rpartition(":")
    await source.start(host, int(port))
    return DnsController(objects, source, parse_targets(targets), key,
                         error_after=error_after)
