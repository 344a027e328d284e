"""LinuxNet's plumbing: one private worker thread owning the pyroute2 socket.

pyroute2 keeps sockets and event loops per thread, so every netlink call runs on
one worker thread: that keeps exactly one socket, serialises concurrent callers
(the agent calls through `asyncio.to_thread`) and lets `LinuxNet(netns="x")` work
by `setns()`-ing only that thread. With `netns=None` the worker stays in the
network namespace of the thread that makes the first call. Also here: reading
links into `_Link`, and the convergence step shared by every device kind.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .netns import NETNS_DIR, setns
from .netvalidate import NetDriverError, validate_netns

T = TypeVar("T")


@dataclass
class _Link:
    index: int
    name: str
    kind: str
    master: int
    up: bool
    mtu: int
    mac: str
    data: dict[str, Any]


def open_netns(name: str) -> int:
    try:
        return os.open(NETNS_DIR / validate_netns(name), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as e:
        raise NetDriverError(f"network namespace {name!r} does not exist") from e


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / validate_netns(name)).exists()


class NetlinkWorker:
    """The worker thread, its IPRoute socket, and link lookups made on it."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = validate_netns(netns) if netns is not None else None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._ipr: Any = None
        self._closed = False

    def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        if threading.current_thread() is self._worker:
            return fn(*args)
        with self._pool_lock:
            if self._closed:
                raise NetDriverError("LinuxNet is closed")
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="linuxnet")
            future = self._pool.submit(self._guarded, what, fn, *args)
        return future.result()

    def _guarded(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            self._setup()
            return fn(*args)
        except NetDriverError:
            raise
        except (NetlinkError, OSError, ValueError, KeyError) as e:
            raise NetDriverError(f"{what}: {describe(e)}") from e

    def _setup(self) -> None:
        if self._ipr is not None:
            return
        from pyroute2 import IPRoute

        self._worker = threading.current_thread()
        if self.netns is not None:
            fd = open_netns(self.netns)
            try:
                setns(fd)
            finally:
                os.close(fd)
        self._ipr = IPRoute()

    def close(self) -> None:
        """Close the netlink socket and stop the worker thread (idempotent)."""
        with self._pool_lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.submit(self._close_ipr).result()
            pool.shutdown(wait=True)

    def _close_ipr(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    # -- link helpers (worker thread only) -------------------------------------------

    def _get(self, name: str, ipr: Any = None) -> _Link | None:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            msgs = (ipr or self._ipr).link("get", ifname=name)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise
        return parse_link(msgs[0]) if msgs else None

    def _require(self, name: str, kind: str) -> _Link:
        link = self._get(name)
        if link is None:
            raise NetDriverError(f"{kind} {name} does not exist")
        if link.kind != kind:
            raise NetDriverError(f"{name} is a {link.kind or 'device'}, not a {kind}")
        return link

    def _require_index(self, dev: str) -> int:
        link = self._get(dev)
        if link is None:
            raise NetDriverError(f"device {dev} does not exist")
        return link.index

    def _converge(self, link: _Link, mtu: int, master: _Link | None, ipr: Any = None) -> bool:
        """Set MTU, master and up on an existing device; True if anything changed."""
        ipr = ipr or self._ipr
        changed = False
        if link.mtu != mtu:
            ipr.link("set", index=link.index, mtu=mtu)
            changed = True
        if master is not None and link.master != master.index:
            ipr.link("set", index=link.index, master=master.index)
            changed = True
        if not link.up:
            ipr.link("set", index=link.index, state="up")
            changed = True
        return changed


def parse_link(msg: Any) -> _Link:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = ""
    data: dict[str, Any] = {}
    if info is not None:
        kind = info.get_attr("IFLA_INFO_KIND") or ""
        raw = info.get_attr("IFLA_INFO_DATA")
        if raw is not None and hasattr(raw, "get"):
            data = {k: v for k, v in raw.get("attrs", [])}
    if kind == "tun":
        kind = "tap" if data.get("IFLA_TUN_TYPE") == 2 else "tun"
    return _Link(
        index=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind,
        master=msg.get_attr("IFLA_MASTER") or 0,
        up=bool(msg["flags"] & 1),
        mtu=msg.get_attr("IFLA_MTU") or 0,
        mac=(msg.get_attr("IFLA_ADDRESS") or "").lower(),
        data=data,
    )


def _tolerate(op: Callable[[], object], codes: tuple[int, ...]) -> bool:
    """Run a netlink op; False if it failed with one of `codes` (already so)."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        op()
    except NetlinkError as e:
        if e.code in codes:
            return False
        raise
    return True


def ignore_missing(op: Callable[[], object]) -> bool:
    return _tolerate(op, (errno.ENOENT, errno.ESRCH))


def ignore_exists(op: Callable[[], object]) -> bool:
    return _tolerate(op, (errno.EEXIST,))


def describe(e: BaseException) -> str:
    code = getattr(e, "code", None) or getattr(e, "errno", None)
    if isinstance(code, int) and code > 0:
        return f"{os.strerror(code)} (errno {code})"
    return str(e) or type(e).__name__
