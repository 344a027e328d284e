"""Fake-driver scale: 1,000 servers on 100 fake hosts, created by 20 concurrent clients.

Three processes: `kumo api`, the 100 host agents with the fake driver
(bench/fake_hosts.py: each with its own address, HTTP watches and lease, exactly
the agent code that runs on real hosts), and this one, the 20 clients. Prints the time until all servers are
ACTIVE, scheduler decisions/s, API latency p50/p99 during the run (the clients'
POSTs, and every mutating call of the agents), watch fan-out, API memory per
1,000 stored objects.
    .venv/bin/python bench/scale_bench.py [--servers 1000 --hosts 100 --clients 20]
    .venv/bin/python bench/scale_bench.py --servers 10000 --hosts 1000   # the big one
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import free_port  # noqa: E402
from tests.e2e.test_agent_restart import ApiOnly  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


DROPPED: list[int] = []  # client POSTs retried after a dropped connection


HOSTS_PER_PROCESS = 250  # fake hosts per agents' process (real hosts each have a CPU)


def start_hosts(api: ApiOnly, hosts: int, state: Path, profile: str = ""
                ) -> list[tuple[subprocess.Popen, Path, Path]]:
    """The fake hosts' agents in their own processes (bench/fake_hosts.py), 250 a process:
    1,000 in one process starved its event loop, and leases lapsed for the bench's sake."""
    procs = []
    for first in range(0, hosts, HOSTS_PER_PROCESS):
        out, log = state / f"writes-{first}.json", state / f"agents-{first}.log"
        procs.append((subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("fake_hosts.py")), "--credentials",
             str(api.data_dir / "service-credentials.yaml"), "--first", str(first),
             "--hosts", str(min(hosts - first, HOSTS_PER_PROCESS)), "--state", str(state),
             "--out", str(out), "--profile", profile if first == 0 else ""],
            stdout=subprocess.DEVNULL, stderr=open(log, "w")), out, log))  # noqa: SIM115
    return procs


def stop_hosts(procs: list[tuple[subprocess.Popen, Path, Path]], t0: float, t1: float
               ) -> tuple[list[float], list[float]]:
    """Stop the agents; the latencies of their mutating calls started in [t0, t1], and
    how late their processes' loops ran."""
    writes: list[float] = []
    lags: list[float] = []
    for proc, out, _ in procs:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        if out.exists():
            got = json.loads(out.read_text())
            writes += [d for start, d in got["writes"] if t0 <= start <= t1]
            lags += [d for at, d in got["lags"] if t0 <= at <= t1]
    return writes, lags


def store_objects(data_dir: Path) -> int:
    """How many objects the API's store holds (read-only peek at its SQLite file)."""
    import sqlite3

    with sqlite3.connect(f"file:{data_dir / 'store.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0])


async def prepare(c: httpx.AsyncClient, servers: int) -> str:
    """A project with room for the run, and an image; the image id."""
    r = await c.get("/v3/projects", params={"name": "admin"})
    project = r.json()["projects"][0]["id"]
    await c.put(f"/compute/v2.1/os-quota-sets/{project}", json={"quota_set": {
        "instances": servers * 2, "cores": servers * 2, "ram": servers * 1024}})
    img = (await c.post("/image/v2/images", json={
        "name": "scale", "disk_format": "raw", "container_format": "bare"})).json()
    await c.put(f"/image/v2/images/{img['id']}/file", content=b"x" * 4096,
                headers={"Content-Type": "application/octet-stream"})
    return str(img["id"])


async def hosts_up(c: httpx.AsyncClient) -> int:
    try:
        r = await c.get("/compute/v2.1/os-hypervisors")
    except httpx.TransportError:
        return 0  # an API busy registering a thousand hosts may drop us: ask again
    return sum(1 for hv in r.json()["hypervisors"] if hv["state"] == "up")


async def create_all(c: httpx.AsyncClient, args: argparse.Namespace, image: str) -> list[float]:
    """POST every server from ``args.clients`` concurrent clients; their latencies."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.servers):
        queue.put_nowait(i)

    async def client() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            t = time.perf_counter()
            for attempt in range(3):  # a connection dropped before the body was read
                try:
                    r = await c.post("/compute/v2.1/servers", json={"server": {
                        "name": f"s{i}", "imageRef": image, "flavorRef": "42",
                        "networks": "none"}})
                    break
                except httpx.TransportError:
                    if attempt == 2:
                        raise
                    DROPPED.append(i)
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 202, r.text

    await asyncio.gather(*(client() for _ in range(args.clients)))
    return latencies


async def wait_settled(c: httpx.AsyncClient, servers: int, poll: list[float]) -> tuple[int, int]:
    """Poll the index filtered by status until every server is ACTIVE or ERROR.

    (A detail list of every server each 0.5 s took about half the API's CPU at
    1,000 servers and slowed what it measured.)"""
    async def count(status: str) -> int:
        t = time.perf_counter()
        r = await c.get("/compute/v2.1/servers", params={"status": status, "limit": "100000"})
        poll.append(time.perf_counter() - t)
        return len(r.json()["servers"])

    errors, polls = 0, 0
    while True:
        active = await count("ACTIVE")
        if polls % 4 == 0 or active + errors >= servers:
            errors = await count("ERROR")
        polls += 1
        if active + errors >= servers:
            return active, errors
        await asyncio.sleep(0.5)


async def bench(args: argparse.Namespace, api: ApiOnly) -> None:
    from tests.e2e.vmhelpers import admin_token

    token = admin_token(api.base_url, api.admin_password)
    h = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.79"}
    assert api.proc is not None
    state = Path(tempfile.mkdtemp(prefix="kumo-fh-"))
    async with httpx.AsyncClient(base_url=api.base_url, headers=h, timeout=300,
                                 limits=httpx.Limits(keepalive_expiry=2.0)) as c:
        image = await prepare(c, args.servers)
        t_reg = time.perf_counter()
        agents = start_hosts(api, args.hosts, state, args.profile_agents)
        try:
            while await hosts_up(c) < args.hosts:  # registered and leased
                await asyncio.sleep(1.0)
            t_reg = time.perf_counter() - t_reg
            before = (await c.get("/debug/state")).json()
            rss0, objs0 = rss_mb(api.proc.pid), store_objects(api.data_dir)
            poll: list[float] = []
            t0, wall0 = time.perf_counter(), time.time()
            latencies = await create_all(c, args, image)
            t_created = time.perf_counter() - t0
            active, errors = await wait_settled(c, args.servers, poll)
            t_all = time.perf_counter() - t0
            if errors:
                r = await c.get("/compute/v2.1/servers/detail", params={"status": "ERROR"})
                for s in r.json()["servers"][:5]:
                    print("  ERROR:", s["id"], (s.get("fault") or {}).get("message"))
            up = await hosts_up(c)
            stats = (await c.get("/debug/state")).json()
            rss1, objs1 = rss_mb(api.proc.pid), store_objects(api.data_dir)
            agents_rss = sum(rss_mb(p.pid) for p, _, _ in agents)
        finally:
            writes, lags = stop_hosts(agents, wall0 if "wall0" in locals() else 0, time.time())
    report(args, stats, before, t_reg, t_created, t_all, active, errors, latencies, poll,
           writes)
    per_k = (rss1 - rss0) / max(1, (objs1 - objs0) / 1000)
    lease_failures = sum(log.read_text().count("lease renewal failed") for _, _, log in agents)
    print(f"  API RSS {rss0:.0f} -> {rss1:.0f} MB for {objs0} -> {objs1} stored objects "
          f"({per_k:.1f} MB per 1,000 objects); agents' processes ({args.hosts} agents) RSS "
          f"{agents_rss:.0f} MB; hosts up at the end {up}/{args.hosts}, lease renewals "
          f"failed {lease_failures}; load average {os.getloadavg()[0]:.1f}")
    print(f"  agents' event loop late by p50 {pct(lags, .5) * 1e3:.0f} ms, p99 "
          f"{pct(lags, .99) * 1e3:.0f} ms, max {max(lags, default=0):.1f} s")
    shutil.rmtree(state, ignore_errors=True)


def report(args: argparse.Namespace, stats: dict, before: dict, t_reg: float,
           t_created: float, t_all: float, active: int, errors: int,
           latencies: list[float], poll: list[float], agent_writes: list[float]) -> None:
    sched = stats.get("scheduler", {})
    store0, store1 = before.get("store", {}), stats.get("store", {})
    events = (store1.get("events_delivered") or 0) - (store0.get("events_delivered") or 0)
    writes = (store1.get("ops_committed") or 0) - (store0.get("ops_committed") or 0)
    mutating = latencies + agent_writes
    print(f"{args.servers} servers on {args.hosts} fake hosts, {args.clients} clients, "
          f"{os.cpu_count()} cores (hosts registered and leased in {t_reg:.1f}s)")
    print(f"  all API calls returned in {t_created:.1f}s; all ACTIVE in {t_all:.1f}s "
          f"(goal < 20 s at 1,000/100); ACTIVE {active}, ERROR {errors}")
    print(f"  scheduler decisions {sched.get('decisions')} -> "
          f"{(sched.get('decisions') or 0) / t_all:.0f}/s; claim conflicts "
          f"{sched.get('claim_conflicts')}")
    print(f"  POST /servers latency p50 {pct(latencies, .5) * 1e3:.0f} ms, "
          f"p99 {pct(latencies, .99) * 1e3:.0f} ms; status poll p50 "
          f"{pct(poll, .5) * 1e3:.0f} ms")
    if DROPPED:
        print(f"  {len(DROPPED)} POSTs retried after a dropped connection")
    print(f"  every mutating call ({len(mutating)}: clients' POSTs + agents' writes) p50 "
          f"{pct(mutating, .5) * 1e3:.0f} ms, p99 {pct(mutating, .99) * 1e3:.0f} ms")
    print(f"  watch fan-out: {writes} writes committed, {events} events delivered to "
          f"{store1.get('watchers')} watchers ({events / max(1, writes):.1f} per write)")


class ProfiledApi(ApiOnly):
    """`kumo api` under cProfile (written at exit) for --profile."""

    profile: str = ""

    def start(self, timeout: float = 30, extra_args: list[str] | None = None) -> None:
        import subprocess

        log = open(self.log_path, "a")  # noqa: SIM115
        kumo = Path(sys.executable).parent / "kumo"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cProfile", "-o", self.profile, str(kumo), "api",
             "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        while " ready at " not in (line := self.proc.stdout.readline()):
            if not line and self.proc.poll() is not None:
                raise RuntimeError(self.log_path.read_text()[-2000:])

    def stop(self) -> int:
        import signal

        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)  # cProfile writes its file on the way out
            self.proc.wait(timeout=60)
        return super().stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--profile", default="", help="write a cProfile of `kumo api` here")
    ap.add_argument("--profile-agents", default="", help="and of the agents' process here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="kumo-scale-"))
    api = ProfiledApi(tmp / "data", free_port()) if args.profile else ApiOnly(
        tmp / "data", free_port())
    if args.profile:
        api.profile = args.profile
    try:
        api.start()
        asyncio.run(bench(args, api))
    finally:
        rc = api.stop()
        if api.log_path.exists():  # kept for a post-mortem
            shutil.copy(api.log_path, Path(tempfile.gettempdir()) / "scale-bench-api.log")
        print(f"  kumo api exit status {rc}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
