"""The files dnsmasq leaves behind for one network: the lease file and its log.

A lease of a removed port keeps its address reserved inside dnsmasq until it
expires, so the lease file is pruned (dnsmasq reads it only at start); the log
is scanned incrementally for DHCPACK/DHCPNAK counts (the agent's metrics).
"""

from __future__ import annotations

import os
from pathlib import Path

from .dnsmasq_config import DhcpHost

_READ_CHUNK = 1 << 20


def write_if_changed(target: Path, text: str) -> bool:
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


class Leases:
    """dnsmasq's lease file (`MAC IP ...` lines after the expiry time)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[str]:
        try:
            return self.path.read_text().splitlines()
        except OSError:
            return []

    @staticmethod
    def _ok(line: str, keep: set[tuple[str, str]]) -> bool:
        parts = line.split()
        return len(parts) < 3 or (parts[1].lower(), parts[2]) in keep

    def has_stale(self, hosts: list[DhcpHost]) -> bool:
        keep = {(h.mac, h.ip) for h in hosts}
        return not all(self._ok(line, keep) for line in self.lines())

    def prune(self, hosts: list[DhcpHost]) -> None:
        keep = {(h.mac, h.ip) for h in hosts}
        lines = [line for line in self.lines() if self._ok(line, keep)]
        write_if_changed(self.path, "".join(f"{line}\n" for line in lines))

    def count(self) -> int:
        try:
            text = self.path.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines()
                   if line.strip() and not line.startswith("duid "))


class LogCounter:
    """DHCPACK/DHCPNAK lines in dnsmasq's log, counted since this object was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.acks = 0
        self.naks = 0
        self._pos = 0
        self._ino: int | None = None

    def scan(self) -> None:
        """Count the lines added since the last call; start over on truncation."""
        try:
            f = open(self.path, "rb")
        except OSError:
            return
        with f:
            st = os.fstat(f.fileno())
            if st.st_ino != self._ino or st.st_size < self._pos:
                self._ino = st.st_ino
                self._pos = 0
            f.seek(self._pos)
            while True:
                chunk = f.read(_READ_CHUNK)
                end = chunk.rfind(b"\n") + 1
                if end == 0:
                    break  # nothing, or only a partial line still being written
                for line in chunk[:end].splitlines():
                    if b" DHCPACK(" in line:
                        self.acks += 1
                    elif b" DHCPNAK(" in line:
                        self.naks += 1
                self._pos += end
                f.seek(self._pos)
