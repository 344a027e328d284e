"""Fake-driver scale: 1,000 servers on 100 fake hosts, created by 20 concurrent clients.

One process runs `kumo api` (subprocess) and 100 host agents with the fake
driver (in this process, each with its own HTTP watch and lease, exactly the
agent code that runs on real hosts). Prints the time until all servers are
ACTIVE, scheduler decisions/s and API latency p50/p99 during the run.
    .venv/bin/python bench/scale_bench.py [--servers 1000 --hosts 100 --clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
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


async def run_agents(creds: dict, hosts: int, state: Path) -> list[asyncio.Task]:
    from kumo.agent.main import Agent
    from kumo.client import ApiClient
    from kumo.drivers.fake import FakeDriver

    tasks = []
    for i in range(hosts):
        api = ApiClient(creds)
        agent = Agent(api, FakeDriver(), f"fake-{i:03d}", state / f"h{i}")
        agent.console.interval = 3600  # fake consoles: don't measure uploads here
        tasks.append(asyncio.create_task(agent.run()))
    return tasks


async def bench(args: argparse.Namespace, api: ApiOnly) -> None:
    import yaml
    from tests.e2e.vmhelpers import admin_token

    creds = yaml.safe_load((api.data_dir / "service-credentials.yaml").read_text())
    token = admin_token(api.base_url, api.admin_password)
    h = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.79"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=h, timeout=120) as c:
        # a project with room for the run
        r = await c.get("/v3/projects", params={"name": "admin"})
        project = r.json()["projects"][0]["id"]
        await c.put(f"/compute/v2.1/os-quota-sets/{project}", json={"quota_set": {
            "instances": args.servers * 2, "cores": args.servers * 2,
            "ram": args.servers * 1024}})
        img = (await c.post("/image/v2/images", json={
            "name": "scale", "disk_format": "raw", "container_format": "bare"})).json()
        await c.put(f"/image/v2/images/{img['id']}/file", content=b"x" * 4096,
                    headers={"Content-Type": "application/octet-stream"})
        agents = await run_agents(creds, args.hosts, Path(tempfile.mkdtemp(prefix="kumo-fh-")))
        while sum(1 for hv in (await c.get("/compute/v2.1/os-hypervisors")).json()[
                "hypervisors"] if hv["state"] == "up") < args.hosts:  # registered and leased
            await asyncio.sleep(0.2)
        latencies: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(args.servers):
            queue.put_nowait(i)

        async def client() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                t = time.perf_counter()
                r = await c.post("/compute/v2.1/servers", json={"server": {
                    "name": f"s{i}", "imageRef": img["id"], "flavorRef": "42",
                    "networks": "none"}})
                latencies.append(time.perf_counter() - t)
                assert r.status_code == 202, r.text

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(args.clients)))
        t_created = time.perf_counter() - t0
        poll: list[float] = []

        async def count(status: str) -> int:
            t = time.perf_counter()
            r = await c.get("/compute/v2.1/servers", params={"status": status,
                                                             "limit": "100000"})
            poll.append(time.perf_counter() - t)
            return len(r.json()["servers"])

        # Poll the index filtered by status (a detail list of every server each 0.5 s
        # took about half the API's CPU at 1,000 servers and slowed what it measured).
        errors, polls = 0, 0
        while True:
            active = await count("ACTIVE")
            if polls % 4 == 0 or active + errors >= args.servers:
                errors = await count("ERROR")
            polls += 1
            if active + errors >= args.servers:
                break
            await asyncio.sleep(0.5)
        t_all = time.perf_counter() - t0
        if errors:
            r = await c.get("/compute/v2.1/servers/detail", params={"status": "ERROR"})
            for s in r.json()["servers"][:5]:
                print("  ERROR:", s["id"], (s.get("fault") or {}).get("message"))
        stats = (await c.get("/debug/state")).json()
        for t in agents:
            t.cancel()
        await asyncio.gather(*agents, return_exceptions=True)
    sched = stats.get("scheduler", {})
    print(f"{args.servers} servers on {args.hosts} fake hosts, {args.clients} clients, "
          f"{os.cpu_count()} cores")
    print(f"  all API calls returned in {t_created:.1f}s; all ACTIVE in {t_all:.1f}s "
          f"(goal < 20 s); ACTIVE {active}, ERROR {errors}")
    print(f"  scheduler decisions {sched.get('decisions')} -> "
          f"{(sched.get('decisions') or 0) / t_all:.0f}/s; claim conflicts "
          f"{sched.get('claim_conflicts')}")
    print(f"  POST /servers latency p50 {pct(latencies, .5) * 1e3:.0f} ms, "
          f"p99 {pct(latencies, .99) * 1e3:.0f} ms; status poll p50 "
          f"{pct(poll, .5) * 1e3:.0f} ms")
    assert api.proc is not None
    print(f"  API server RSS after the run: {rss_mb(api.proc.pid):.0f} MB; "
          f"bench process (100 agents) RSS {rss_mb(os.getpid()):.0f} MB")


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
        api.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
