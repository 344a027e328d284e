"""A real ``kumo api`` process on loopback, with its own data dir and ``--set`` limits:
the one harness tests use when they need to kill, restart or measure the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import free_port

VENV_BIN = Path(sys.executable).parent
SRC = Path(os.environ.get("KUMO_TEST_SRC") or Path(__file__).resolve().parents[2] / "src")


@dataclass
class ApiProcess:
    data_dir: Path
    settings: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    ready_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ApiProcess:
        t0 = time.perf_counter()
        argv = [str(VENV_BIN / "kumo"), "api", "--data-dir", str(self.data_dir),
                "--listen", f"127.0.0.1:{self.port}"]
        for s in self.settings:
            argv += ["--set", s]
        env = {**os.environ, "PYTHONPATH": f"{SRC}:{os.environ.get('PYTHONPATH', '')}",
               "KUMO_LOG_LEVEL": "WARNING"}
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir.parent / f"api-{self.port}.log", "a")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True,
                                     env=env)
        assert self.proc.stdout is not None
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"kumo api exited: {log.name}")
            if " ready at " in line:
                self.ready_seconds = time.perf_counter() - t0
                return self
        raise RuntimeError("kumo api did not become ready")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def rss(self) -> int:
        """Resident memory of the server process, bytes."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def token(self) -> str:
        """An admin token scoped to the admin project."""
        password = (self.data_dir / "admin-password").read_text().strip()
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        r = httpx.post(self.url + "/v3/auth/tokens", json=body, timeout=30)
        r.raise_for_status()
        return r.headers["X-Subject-Token"]
