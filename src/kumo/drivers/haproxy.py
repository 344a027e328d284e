"""One HAProxy per load balancer, in master-worker mode inside the LB's namespace.

    ensure(plan, netns, previous) -> "started" | "reloaded" | "runtime" | "unchanged"
    stop(lb_id, netns), present() -> [lb ids], stats(lb_id) -> [rows of `show stat`]

Files live in ``<run_root>/<lb id>/`` (haproxy.cfg, haproxy.pid = the master, stats.sock).
A change of members only (add, remove, weight, enable/disable, address) is applied through
the runtime API on the stats socket and written to the file without a reload; any other
change is validated (``haproxy -c``), written, and applied by SIGUSR2 to the master: a
seamless reload (the new worker takes the listening sockets over ``expose-fd listeners``,
so no connection is refused). The master outlives the agent; a new agent adopts it by its
pidfile and command line. argv lists only; every name comes from an id.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from . import netns as nsmod
from .haproxy_config import LbPlan, MemberPlan, PoolPlan, _id, render, server_args
from .procs import alive, cmdline, read_pid


class HaproxyError(Exception):
    """HAProxy could not be configured, started, reloaded or asked."""


class Haproxy:
    def __init__(self, run_root: Path, binary: str = "haproxy") -> None:
        self.root = run_root
        self.binary = binary
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def dir(self, lb_id: str) -> Path:
        return self.root / _id(lb_id)

    # ---- process -------------------------------------------------------------------------
    def master(self, lb_id: str) -> int | None:
        """The master's pid if it runs with our file (adoption after an agent restart)."""
        d = self.dir(lb_id)
        pid = read_pid(d / "haproxy.pid")
        if pid is None or str(d / "haproxy.cfg") not in cmdline(pid):
            return None
        return pid

    def present(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def _check(self, path: Path) -> None:
        res = subprocess.run([self.binary, "-c", "-q", "-f", str(path)], capture_output=True,
                             timeout=30, check=False)
        if res.returncode != 0:
            raise HaproxyError(f"configuration refused: {res.stderr.decode()[-400:]}")

    def _write(self, d: Path, text: str) -> None:
        tmp = d / "haproxy.cfg.new"
        tmp.write_text(text)
        self._check(tmp)
        os.replace(tmp, d / "haproxy.cfg")

    def _start(self, d: Path, netns: str) -> None:
        argv = ["ip", "netns", "exec", nsmod.validate_name(netns), self.binary, "-W", "-D",
                "-p", str(d / "haproxy.pid"), "-f", str(d / "haproxy.cfg")]
        res = subprocess.run(argv, capture_output=True, timeout=30, check=False)
        if res.returncode != 0:
            raise HaproxyError(f"haproxy did not start: {res.stderr.decode()[-400:]}")

    def ensure(self, plan: LbPlan, netns: str, previous: LbPlan | None) -> str:
        d = self.dir(plan.lb_id)
        d.mkdir(exist_ok=True, mode=0o700)
        text = render(plan, str(d))
        cfg = d / "haproxy.cfg"
        pid = self.master(plan.lb_id)
        if pid is None:
            self._write(d, text)
            (d / "stats.sock").unlink(missing_ok=True)
            self._start(d, netns)
            self._wait_worker(plan.lb_id, None)
            return "started"
        on_disk = cfg.read_text() if cfg.exists() else ""
        if on_disk == text:
            return "unchanged"
        if previous is not None and previous.without_members() == plan.without_members() \
                and render(previous, str(d)) == on_disk and self._runtime(previous, plan):
            self._write(d, text)
            return "runtime"
        before = self._worker(plan.lb_id)
        self._write(d, text)
        os.kill(pid, signal.SIGUSR2)
        self._wait_worker(plan.lb_id, before)
        return "reloaded"

    def stop(self, lb_id: str, netns: str | None = None) -> None:
        """The master (and so its workers) stopped, its files and namespace removed."""
        pid = self.master(lb_id)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        d = self.dir(lb_id)
        for f in ("haproxy.cfg", "haproxy.cfg.new", "haproxy.pid", "stats.sock"):
            (d / f).unlink(missing_ok=True)
        if d.exists():
            d.rmdir()
        if netns is not None and nsmod.exists(netns):
            nsmod.delete(netns)

    # ---- the runtime API -----------------------------------------------------------------
    def command(self, lb_id: str, cmd: str, timeout: float = 5.0) -> str:
        path = str(self.dir(lb_id) / "stats.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            try:
                s.connect(path)
                s.sendall(cmd.encode() + b"\n")
                chunks = []
                while chunk := s.recv(65536):
                    chunks.append(chunk)
            except OSError as exc:
                raise HaproxyError(f"stats socket of {lb_id}: {exc}") from exc
        return b"".join(chunks).decode(errors="replace")

    def _worker(self, lb_id: str) -> int | None:
        try:
            info = self.command(lb_id, "show info", timeout=1.0)
        except HaproxyError:
            return None
        for line in info.splitlines():
            if line.startswith("Pid:"):
                return int(line.split(":", 1)[1])
        return None

    def _wait_worker(self, lb_id: str, before: int | None, timeout: float = 15.0) -> None:
        """Until a worker other than ``before`` answers on the stats socket."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self._worker(lb_id)
            if pid is not None and pid != before:
                return
            time.sleep(0.02)
        raise HaproxyError(f"no new HAProxy worker for {lb_id} after {timeout:.0f} s")

    def _run(self, lb_id: str, cmd: str) -> str:
        out = self.command(lb_id, cmd).strip()
        low = out.lower()
        if any(w in low for w in ("unknown", "error", "not found", "no such", "cannot",
                                  "require", "invalid")):
            raise HaproxyError(f"{cmd}: {out}")
        return out

    def _runtime(self, old: LbPlan, new: LbPlan) -> bool:
        """Apply a members-only change; False when one needs a reload (a backup flip)."""
        olds = {p.id: p for p in old.pools}
        for pool in new.pools:
            om = {m.id: m for m in olds[pool.id].members}
            nm = {m.id: m for m in pool.members}
            if any(m.backup != om[i].backup for i, m in nm.items() if i in om):
                return False
        for pool in new.pools:
            self._apply_pool(new.lb_id, olds[pool.id], pool)
        return True

    def _apply_pool(self, lb_id: str, old: PoolPlan, pool: PoolPlan) -> None:
        om = {m.id: m for m in old.members}
        nm = {m.id: m for m in pool.members}
        be = f"p{pool.id}"
        for mid, m in nm.items():
            if mid not in om:
                self._add(lb_id, be, pool, m)
            else:
                self._change(lb_id, be, om[mid], m)
        for mid in om.keys() - nm.keys():
            self._remove(lb_id, be, f"m{mid}")

    def _add(self, lb_id: str, be: str, pool: PoolPlan, m: MemberPlan) -> None:
        sv = f"{be}/m{m.id}"
        self._run(lb_id, f"add server {sv} {server_args(pool, m)}")
        if pool.monitor is not None:
            self._run(lb_id, f"enable health {sv}")
        if m.enabled:
            self._run(lb_id, f"set server {sv} state ready")

    def _change(self, lb_id: str, be: str, a: MemberPlan, b: MemberPlan) -> None:
        sv = f"{be}/m{b.id}"
        if (a.address, a.port) != (b.address, b.port):
            self._run(lb_id, f"set server {sv} addr {b.address} port {b.port}")
        if a.weight != b.weight:
            self._run(lb_id, f"set server {sv} weight {b.weight}")
        if a.enabled != b.enabled:
            self._run(lb_id, f"set server {sv} state {'ready' if b.enabled else 'maint'}")

    def _remove(self, lb_id: str, be: str, name: str, wait: float = 5.0) -> None:
        """Drain (maintenance: no new request goes there), then delete once idle."""
        self._run(lb_id, f"set server {be}/{name} state maint")
        deadline = time.monotonic() + wait
        while True:
            out = self.command(lb_id, f"del server {be}/{name}").strip()
            if "deleted" in out.lower() or "no such" in out.lower() or not out:
                return
            if time.monotonic() > deadline:
                return  # still busy: maintenance keeps it out; the next reload drops it
            time.sleep(0.05)

    # ---- statistics ----------------------------------------------------------------------
    def stats(self, lb_id: str) -> list[dict[str, str]]:
        """``show stat`` as rows (pxname, svname, scur, qcur, rate, bin, bout, status,
        check_status, check_duration, hrsp_2xx ...)."""
        text = self.command(lb_id, "show stat").lstrip("# ")
        return list(csv.DictReader(io.StringIO(text)))
