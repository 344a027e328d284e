"""Shared fixtures: a live `kumo up` driven through the real clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveCloud:
    """A `kumo up` process on loopback with its own data dir."""

    data_dir: Path
    port: int
    args: list[str] = field(default_factory=list)
    netns: str | None = None  # run kumo (and the CLI) inside this network namespace
    proc: subprocess.Popen[str] | None = None
    startup_seconds: float = 0.0
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir.parent / "kumo-up.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    @property
    def admin_password(self) -> str:
        return (self.data_dir / "admin-password").read_text().strip()

    def start(self, timeout: float = 30, extra_args: list[str] | None = None) -> None:
        t0 = time.perf_counter()
        log = open(self.log_path, "a")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [*self.ns_prefix(), str(VENV_BIN / "kumo"), "up", "--data-dir", str(self.data_dir),
             "--listen", f"127.0.0.1:{self.port}", *(extra_args or self.args)],
            stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ})
        assert self.proc.stdout is not None
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"kumo up exited: {self.log_path.read_text()[-3000:]}")
            if " ready at " in line:
                self.startup_seconds = time.perf_counter() - t0
                return
        raise RuntimeError("kumo up did not become ready")

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def ns_prefix(self) -> list[str]:
        # nsenter keeps the root mount namespace, so the DHCP namespaces kumo creates are
        # visible (and deletable) from outside; `ip netns exec` would hide them.
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--"] if self.netns else []

    def kill_vms(self) -> None:
        """VMs, dnsmasq and metadata proxies outlive kumo by design; a test's cloud must
        not leave any behind (the detached ones carry the data dir on their command line)."""
        from tests.multihost import kill_pids, processes_matching

        for pidfile in self.data_dir.glob("agent/*/vms/*/qemu.pid"):
            try:
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
            except (ValueError, OSError):
                pass
        kill_pids(pid for pid, _ in processes_matching(f"{self.data_dir}/"))

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update({"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml),
                    "PATH": f"{VENV_BIN}:{env.get('PATH', '')}"})
        env.update(extra)
        return env

    def openstack(self, *args: str, cloud: str = "kumo", json_out: bool = True,
                  check: bool = True, clouds_yaml: Path | None = None) -> Any:
        """Run the real `openstack` CLI; parsed `-f json` output (or the process)."""
        argv = [*self.ns_prefix(), str(VENV_BIN / "openstack"), "--os-cloud", cloud, *args]
        if json_out:
            argv += ["-f", "json"]
        env = self.env()
        if clouds_yaml is not None:
            env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
        p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({p.returncode}):\n"
                                 f"{p.stderr[-2000:]}")
        if not check or not json_out:
            return p
        return json.loads(p.stdout) if p.stdout.strip() else None


@pytest.fixture(scope="session")
def cloud() -> Iterator[LiveCloud]:
    tmp = Path(tempfile.mkdtemp(prefix="kumo-e2e-"))
    # The session cloud runs in the root namespace, so its agent's networking is the
    # in-memory driver; real bridges, VXLAN and dnsmasq are tested inside namespaces.
    c = LiveCloud(tmp / "data", free_port(), args=["--net-driver", "fake"])
    try:
        c.start()
        yield c
    finally:
        c.stop()
        c.kill_vms()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def multihost() -> Iterator[Any]:
    """Factory for multi-host clouds in network namespaces: see tests/multihost.py.

    ``with multihost(3, driver="qemu") as mh: ...``; any cloud still open is torn
    down when the test ends.
    """
    from .multihost import MultiHostFactory

    factory = MultiHostFactory()
    try:
        yield factory
    finally:
        factory.close()
