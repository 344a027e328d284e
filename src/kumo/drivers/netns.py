"""Named network namespaces (the `ip netns` kind, bound under /run/netns).

Small helpers for the DHCP/metadata namespaces: create, probe, delete (after
killing everything still running inside), list the pids inside, and open a
listening TCP socket inside a namespace from this process.

`listen_tcp` switches namespace in a short-lived worker thread only: setns()
changes the calling thread's namespace, and a socket keeps the namespace it was
created in, so the event loop thread can serve it while staying where it is.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from .procs import alive

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
_IP_TIMEOUT = 10


class NetnsError(Exception):
    """A namespace could not be created, deleted or entered."""


def validate_name(name: str) -> str:
    """Namespace names become paths under /run/netns; be strict."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise NetnsError(f"bad network namespace name {name!r}")
    return name


def path(name: str) -> Path:
    return NETNS_DIR / validate_name(name)


def exists(name: str) -> bool:
    return path(name).exists()


def create(name: str) -> None:
    """Create the namespace (idempotent) and bring its loopback up."""
    if not exists(name):
        _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")


def identity(name: str) -> tuple[int, int] | None:
    """(device, inode) of the namespace: the same name re-created is a different namespace."""
    return _key(path(name))


def holds(name: str, pid: int) -> bool:
    """True if process pid sits in this namespace."""
    want = identity(name)
    return want is not None and want == _key(Path(f"/proc/{pid}/ns/net"))


def pids(name: str) -> list[int]:
    """Every process whose network namespace is this one (by nsfs inode)."""
    key = identity(name)
    if key is None:
        return []
    found = [int(e) for e in os.listdir("/proc")
             if e.isdigit() and _key(Path(f"/proc/{e}/ns/net")) == key]
    return sorted(found)


def _key(p: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(p)
    except OSError:
        return None  # gone, or a kernel thread
    return st.st_dev, st.st_ino


def delete(name: str, timeout: float = 5.0) -> None:
    """SIGKILL every process inside, wait for them to go, then remove the namespace.

    A no-op when the namespace does not exist. Never signals this process or pid 1.
    """
    if not exists(name):
        return
    deadline = time.monotonic() + timeout
    while True:
        victims = [p for p in pids(name) if p not in (1, os.getpid()) and alive(p)]
        if not victims:
            break
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() >= deadline:
            break  # zombies may linger until reaped; the namespace can still go
        time.sleep(0.05)
    if exists(name):
        _ip("netns", "delete", name)


def listen_tcp(name: str, host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening, non-blocking TCP socket bound to host:port inside namespace `name`.

    Serve it with `asyncio.start_server(cb, sock=s)`.
    """
    ns_path = path(name)
    result: dict[str, object] = {}

    def work() -> None:
        try:
            result["sock"] = _listen_in(ns_path, host, port, backlog)
        except BaseException as e:  # handed to the caller's thread
            result["error"] = e

    worker = threading.Thread(target=work, name=f"netns-{name}", daemon=True)
    worker.start()
    worker.join()
    if "error" in result:
        err = result["error"]
        if isinstance(err, OSError | NetnsError):
            raise err
        raise NetnsError(f"listen in {name}: {err}") from err  # type: ignore[misc]
    sock = result["sock"]
    assert isinstance(sock, socket.socket)
    return sock


def _listen_in(ns_path: Path, host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target)
        finally:
            os.close(target)
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(backlog)
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
            return sock
        finally:
            try:
                setns(own)  # the thread is about to exit; leave it where it was anyway
            except OSError:
                pass
    finally:
        os.close(own)


_libc = None


def setns(fd: int) -> None:
    """Move the calling thread into the network namespace open as fd."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _ip(*args: str) -> None:
    argv = ["ip", *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=_IP_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NetnsError(f"{' '.join(argv)}: {e}") from e
    if proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.returncode}")
