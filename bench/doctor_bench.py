"""How long `kumo doctor` takes on a cloud of N ports on M fake hosts.

    .venv/bin/python bench/doctor_bench.py [--ports 1000] [--hosts 100] [--runs 5]

Starts a real `kumo api`, registers M hosts through the native API the way agents do
(Host with status, a live Lease, an AgentReport with a full sync history and inventory),
creates networks, subnets and N ports through the Neutron API (each bound to one of the
hosts, so every check has work: IPAM allocations, bound ports per host, quota usage),
then times `GET /diagnose/v1/doctor` (the server's own ``seconds`` and the wall time)
and one `kumo doctor` CLI run. No agents run: the hosts are fake, the ports stay DOWN.
No asserts: it measures. Prints the machine's load average beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from restart_bench import Api  # noqa: E402 - the same `kumo api` process harness

KUMO = Path(sys.executable).parent / "kumo"
MERGE = {"Content-Type": "application/merge-patch+json"}


def register_hosts(http: httpx.Client, base: str, n: int) -> None:
    now = time.time()
    for i in range(n):
        name = f"fake{i:03d}"
        nat = f"{base}/apis/kumo.io/v1"
        http.post(f"{nat}/hosts", json={"kind": "Host", "metadata": {"name": name}, "spec": {
            "enabled": True, "availabilityZone": "nova"}}).raise_for_status()
        http.patch(f"{nat}/hosts/{name}/status", headers=MERGE, json={"status": {
            "capacity": {"vcpus": 64, "memoryMb": 262144, "diskGb": 4096},
            "vtepIp": f"198.18.{i // 200}.{10 + i % 200}", "agentVersion": "0.1.0",
            "hypervisorType": "fake", "accelerator": "fake"}}).raise_for_status()
        http.post(f"{nat}/leases", json={"kind": "Lease", "metadata": {"name": name},
                  "spec": {"holderIdentity": name, "renewTime": now,
                           "leaseDurationSeconds": 3600}}).raise_for_status()
        http.post(f"{nat}/agentreports", json={"kind": "AgentReport", "metadata": {
            "name": name}}).raise_for_status()
        http.patch(f"{nat}/agentreports/{name}/status", headers=MERGE, json={"status": {
            "host": name, "agentVersion": "0.1.0", "reportedAt": now, "portsRevision": 0,
            "syncs": [{"revision": 0, "start": now - k, "end": now - k + 0.01, "changes": 0}
                      for k in range(20)],
            "vms": [], "images": [], "inventoryAt": now, "dhcp": [],
            "drift": [], "failures": [], "missing": []}}).raise_for_status()


def synced(http: httpx.Client, base: str, hosts: int) -> None:
    """Every fake agent has seen the newest Port revision (a converged cloud)."""
    rev = int(http.get(f"{base}/apis/kumo.io/v1/ports").json()["metadata"]["resourceVersion"])
    for i in range(hosts):
        http.patch(f"{base}/apis/kumo.io/v1/agentreports/fake{i:03d}/status", headers=MERGE,
                   json={"status": {"portsRevision": rev}}).raise_for_status()


def make_ports(http: httpx.Client, base: str, ports: int, hosts: int) -> None:
    per_net = 250
    nets = []
    for k in range((ports + per_net - 1) // per_net):
        net = http.post(f"{base}/network/v2.0/networks", json={"network": {
            "name": f"bench{k}"}}).json()["network"]
        http.post(f"{base}/network/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "cidr": f"10.{100 + k}.0.0/22", "ip_version": 4,
            "enable_dhcp": False}}).raise_for_status()
        nets.append(net["id"])

    def one(i: int) -> None:
        r = http.post(f"{base}/network/v2.0/ports", json={"port": {
            "network_id": nets[i // per_net], "binding:host_id": f"fake{i % hosts:03d}"}})
        r.raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(ports)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--stale", action="store_true",
                    help="leave every fake agent's Port cache behind (100 watch-lag findings "
                    "once the reports are 30 s old): the doctor's worst case")
    ap.add_argument("--profile", action="store_true",
                    help="afterwards, run the doctor in-process on the same store under "
                    "cProfile and print where its time goes")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-doctor-bench-"))
    api = Api(tmp / "data")
    api.start()
    try:
        token, project = api.token()
        http = httpx.Client(timeout=120, headers={"X-Auth-Token": token})
        http.put(f"{api.url}/network/v2.0/quotas/{project}", json={"quota": {
            "port": args.ports + 100, "network": 100, "subnet": 100}}).raise_for_status()
        t0 = time.perf_counter()
        register_hosts(http, api.url, args.hosts)
        make_ports(http, api.url, args.ports, args.hosts)
        if args.stale:
            time.sleep(31)
        else:
            synced(http, api.url, args.hosts)
        print(f"cloud: {args.ports} ports on {args.hosts} fake hosts built in "
              f"{time.perf_counter() - t0:.1f} s")
        server, wall = [], []
        for _ in range(args.runs):
            t1 = time.perf_counter()
            report = http.get(f"{api.url}/diagnose/v1/doctor").json()
            wall.append(time.perf_counter() - t1)
            server.append(report["seconds"])
        print(f"objects: {report['counted']}; findings: "
              f"{sorted({f['check'] for f in report['findings']})}")
        print(f"doctor (server side): median {statistics.median(server):.3f} s, "
              f"min {min(server):.3f} s, max {max(server):.3f} s over {args.runs} runs")
        print(f"doctor (HTTP wall):   median {statistics.median(wall):.3f} s")
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(api.data / "clouds.yaml"),
               "OS_CLOUD": "kumo"}
        t2 = time.perf_counter()
        subprocess.run([str(KUMO), "doctor"], env=env, capture_output=True, timeout=300)
        print(f"`kumo doctor` CLI (process start, token, run, render): "
              f"{time.perf_counter() - t2:.3f} s")
        print(f"load average: {os.getloadavg()}")
    finally:
        api.stop()
        if args.profile:
            asyncio.run(profile(api.data / "store.db"))
        subprocess.run(["rm", "-rf", str(tmp)])


async def profile(db: Path) -> None:
    import cProfile
    import pstats

    from kumo import store
    from kumo.doctor import Doctor

    objects = await store.open_sqlite(str(db))
    try:
        doctor = Doctor(objects)
        await doctor.run()  # warm
        prof = cProfile.Profile()
        prof.enable()
        report = await doctor.run()
        prof.disable()
        print(f"in-process run: {report['seconds']} s")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(18)
    finally:
        await objects.backend.close()


if __name__ == "__main__":
    main()
