"""The metadata proxy as its own process: started, adopted, restarted, stopped.

A throwaway namespace (made and deleted here) holds 169.254.169.254 on its
loopback; the proxy listens there and forwards to a fake API on this process's
loopback, which echoes what the proxy told it. Nothing touches the machine's own
interfaces.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kumo.agent.metadata_process import ProxyProcess
from kumo.drivers import netns
from kumo.drivers.procs import alive, cmdline, wait_gone

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="needs root and iproute2 for network namespaces")


class FakeApi(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"token": {"expires_at": "2099-01-01T00:00:00.000000Z"}}).encode()
        self.send_response(201)
        self.send_header("X-Subject-Token", "tok")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"path": self.path, "token": self.headers["x-auth-token"],
                           "network": self.headers["x-kumo-network-id"],
                           "for": self.headers["x-forwarded-for"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[dict[str, str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"auth_url": f"http://127.0.0.1:{server.server_port}/v3", "username": "svc",
               "password": "pw", "project_name": "service"}
    finally:
        server.shutdown()
        server.server_close()


def make_ns(name: str) -> None:
    netns.create(name)
    subprocess.run(["ip", "-n", name, "addr", "add", "169.254.169.254/32", "dev", "lo"],
                   check=True)


@pytest.fixture
def ns() -> Iterator[str]:
    name = f"kt-md-{secrets.token_hex(3)}"
    make_ns(name)
    try:
        yield name
    finally:
        netns.delete(name)


def get(ns: str, path: str = "/openstack/latest/meta_data.json") -> dict[str, str] | None:
    code = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
            f"'http://169.254.169.254{path}', timeout=5).read().decode())")
    p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                       capture_output=True, text=True, timeout=30)
    return json.loads(p.stdout) if p.returncode == 0 else None


def proxies_running(pidfile: Path) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and alive(int(e))
            and str(pidfile) in cmdline(int(e))]


async def test_proxy_process_start_adopt_restart_stop(api: dict[str, str], ns: str,
                                                      tmp_path: Path) -> None:
    nid = str(uuid.uuid4())
    proxy = ProxyProcess(api, nid, ns, tmp_path / "dhcp" / nid)
    try:
        assert await proxy.ensure() == "started"
        pid = proxy.pid()
        assert pid is not None and os.getsid(pid) == pid  # its own session: outlives us
        assert "pw" not in " ".join(cmdline(pid))  # the credential went through stdin
        assert get(ns) == {"path": "/metadata/openstack/latest/meta_data.json", "token": "tok",
                           "network": nid, "for": "169.254.169.254"}
        assert proxy.requests() == {"200": 1}

        # A new agent (a new handle, no memory) adopts the running proxy.
        again = ProxyProcess(api, nid, ns, tmp_path / "dhcp" / nid)
        assert await again.ensure() == "unchanged"
        assert again.pid() == pid and proxies_running(proxy.pidfile) == [pid]

        # Dead proxy: restarted.
        os.kill(pid, signal.SIGKILL)
        assert await wait_gone(pid, 5)
        assert await again.ensure() == "restarted"
        pid2 = again.pid()
        assert pid2 not in (None, pid) and get(ns) is not None

        # The namespace re-created under the same name: the old socket listens nowhere.
        netns.delete(ns)
        make_ns(ns)
        assert again.pid() is None
        assert await again.ensure() == "restarted"
        assert get(ns) is not None and proxies_running(proxy.pidfile) == [again.pid()]

        await again.stop()
        assert proxies_running(proxy.pidfile) == [] and not proxy.pidfile.exists()
        assert get(ns) is None
    finally:
        await proxy.stop()
