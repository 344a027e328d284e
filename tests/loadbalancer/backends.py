"""Test scaffolding for the data plane: a namespace and tiny HTTP servers inside it that
answer with their own name (so round robin can be observed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from contextlib import suppress

SERVER = r"""
import http.server, socketserver, sys
addr, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):  # one write: no Nagle/delayed-ACK stall on a kept-alive connection
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(name), name))
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
S((addr, port), H).serve_forever()
"""


def can_netns() -> str | None:
    """Why the data-plane tests cannot run here (None: they can)."""
    import os

    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("haproxy") is None:
        return "needs haproxy (Debian package haproxy)"
    if shutil.which("ip") is None:
        return "needs iproute2"
    return None


def ns(*argv: str, name: str) -> None:
    subprocess.run(["ip", "-n", name, *argv], check=True, capture_output=True)


def make_ns(name: str, addresses: list[str]) -> None:
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    ns("link", "set", "lo", "up", name=name)
    for a in addresses:
        ns("addr", "add", f"{a}/32", "dev", "lo", name=name)


def delete_ns(name: str) -> None:
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    for pid in out.stdout.split():
        with suppress(ProcessLookupError, ValueError):
            import os
            import signal

            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def start_backend(netns: str, addr: str, port: int, name: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", SERVER,
                             addr, str(port), name], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if get(netns, f"http://{addr}:{port}/", timeout=0.5) == name:
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"backend {name} did not start")


def get(netns: str, url: str, timeout: float = 2.0) -> str | None:
    """One GET from inside ``netns`` (curl: no Python inside the namespace needed)."""
    res = subprocess.run(["ip", "netns", "exec", netns, "curl", "-s", "-m", str(timeout),
                          url], capture_output=True, text=True)
    return res.stdout if res.returncode == 0 else None


LOADGEN = r"""
import http.client, json, sys, threading, time
host, port, seconds, workers = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
ok, failed, retried, seen, errors = [0], [0], [0], {}, []
lock = threading.Lock()
IDLE_CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
def one(conn):
    conn.request("GET", "/")
    r = conn.getresponse()
    return r.status, r.read().decode(), r.getheader("connection", "").lower() == "close"
def run():
    conn, used = None, False
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if conn is None:
                conn, used = http.client.HTTPConnection(host, port, timeout=5), False
            try:
                status, body, close = one(conn)
            except IDLE_CLOSED:
                if not used:
                    raise
                # a kept-alive connection closed while idle (a reload's old worker lets
                # it go): an idempotent request is retried once on a new connection, as
                # HTTP clients (browsers, urllib3) do (RFC 9112 9.3.1)
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=5)
                with lock:
                    retried[0] += 1
                status, body, close = one(conn)
            used = True
            with lock:
                if status == 200:
                    ok[0] += 1
                    seen[body] = seen.get(body, 0) + 1
                else:
                    failed[0] += 1
                    errors.append(f"status {status}")
            if close:
                conn.close(); conn = None
        except Exception as exc:
            with lock:
                failed[0] += 1
                errors.append(repr(exc))
            if conn is not None:
                conn.close()
            conn = None
t0 = time.monotonic()
threads = [threading.Thread(target=run) for _ in range(workers)]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps({"ok": ok[0], "failed": failed[0], "retried_idle_close": retried[0],
                  "seen": seen, "errors": errors[:5], "seconds": time.monotonic() - t0}))
"""


def loadgen(netns: str, host: str, port: int, seconds: float, workers: int = 4
            ) -> subprocess.Popen[str]:
    """A steady HTTP client inside ``netns``; ``.communicate()`` gives its JSON report."""
    return subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", LOADGEN,
                             host, str(port), str(seconds), str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
