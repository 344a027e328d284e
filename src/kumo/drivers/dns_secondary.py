"""What kumo's two DNS secondaries (``knot``, ``bind``) share: whom they follow, their
configuration written 0600 and atomically, and finding or stopping the daemon by the
configuration path on its command line (pid reuse guard)."""

from __future__ import annotations

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


@dataclass(frozen=True)
class Daemon:
    """One server program: its executable, configuration file and pidfile (in run_dir)."""

    exe: str
    conf: str
    pidfile: str

    def write_config(self, s: Secondary, text: str) -> Path:
        path = s.run_dir / self.conf
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        tmp.replace(path)
        return path

    def ours(self, s: Secondary, p: int) -> bool:
        argv = procs.cmdline(p)
        return bool(argv) and argv[0].endswith(self.exe) and str(s.run_dir / self.conf) in argv

    def scan(self, s: Secondary) -> int | None:
        """Ours without a pidfile yet (just started): found by our configuration's path."""
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and self.ours(s, int(entry.name)) \
                    and procs.alive(int(entry.name)):
                return int(entry.name)
        return None

    def pid(self, s: Secondary) -> int | None:
        found = procs.read_pid(s.run_dir / self.pidfile)
        return found if found is not None and self.ours(s, found) else None

    async def stop(self, s: Secondary, timeout: float = 5.0) -> None:
        running = self.pid(s) or self.scan(s)
        if running is not None:
            await procs.terminate(running, lambda p: self.ours(s, p), timeout, self.exe)
