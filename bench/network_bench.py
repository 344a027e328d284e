"""Networking figures: port create latency, l2population convergence, agent resync.

    .venv/bin/python bench/network_bench.py port-create [--ports 400 --clients 20 --cidr C]
    .venv/bin/python bench/network_bench.py l2pop-fake [--hosts 50 --samples 20]
    .venv/bin/python bench/network_bench.py l2pop-real [--hosts 3 --samples 10]
    .venv/bin/python bench/network_bench.py resync [--ports 1000]

port-create: `kumo api` on loopback; 20 clients create ports on one /22 through
the Neutron API (IPAM claims by CAS); p50/p99, and a check that no address was
handed out twice. Baseline in the same run: a network create (no IPAM).

l2pop-fake: `kumo api` + N host agents with the in-memory network driver (the
real agent code, its own watches per host). Every host has a port on the
network; then a new port is bound to one host and the time until every other
host has programmed its FDB entry is measured.

resync: one agent's full overlay sync with 1,000 remote ports on one network,
against the real kernel (inside a namespace this script creates and deletes) and
against the in-memory driver as the baseline: first sync (programs everything),
a no-op resync, and a repair after 100 FDB entries were deleted by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import ipaddress
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import free_port  # noqa: E402
from tests.e2e.test_agent_restart import ApiOnly  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


class Neutron:
    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.AsyncClient(base_url=base + "/network/v2.0",
                                      headers={"X-Auth-Token": token}, timeout=60,
                                      limits=httpx.Limits(max_connections=64))

    async def post(self, coll: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.http.post(f"/{coll}", json=body)
        r.raise_for_status()
        return r.json()

    async def close(self) -> None:
        await self.http.aclose()


def start_api(tmp: Path, profile: str = "") -> ApiOnly:
    if profile:
        from bench.scale_bench import ProfiledApi

        api: ApiOnly = ProfiledApi(tmp / "api", free_port())
        api.profile = profile  # type: ignore[attr-defined]
    else:
        api = ApiOnly(tmp / "api", free_port())
    api.start()
    return api


# ---- port create ----------------------------------------------------------------
async def port_create(args: argparse.Namespace) -> None:
    from tests.e2e.vmhelpers import admin_token

    with tempfile.TemporaryDirectory() as d:
        api = start_api(Path(d), args.profile)
        try:
            token = admin_token(api.base_url, api.admin_password)
            n = Neutron(api.base_url, token)
            net_times = []
            for i in range(20):
                t0 = time.perf_counter()
                await n.post("networks", {"network": {"name": f"b{i}"}})
                net_times.append(time.perf_counter() - t0)
            net = await n.post("networks", {"network": {"name": "bench"}})
            nid = net["network"]["id"]
            r = await n.http.put(f"/quotas/{net['network']['project_id']}",
                                 json={"quota": {"port": args.ports + 100}})
            r.raise_for_status()
            await n.post("subnets", {"subnet": {"network_id": nid, "ip_version": 4,
                                                "cidr": args.cidr}})
            lat: list[float] = []
            ips: list[str] = []
            queue = list(range(args.ports))

            async def client() -> None:
                while queue:
                    queue.pop()
                    t0 = time.perf_counter()
                    p = await n.post("ports", {"port": {"network_id": nid}})
                    lat.append(time.perf_counter() - t0)
                    ips.append(p["port"]["fixed_ips"][0]["ip_address"])

            t0 = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(args.clients)))
            wall = time.perf_counter() - t0
            await n.close()
            assert len(set(ips)) == len(ips) == args.ports, "duplicate address handed out"
            print(f"port create, {args.clients} clients, {args.ports} ports on one {args.cidr}: "
                  f"p50 {ms(pct(lat, .5))}, p99 {ms(pct(lat, .99))}, "
                  f"{args.ports / wall:.0f} ports/s; all {len(ips)} addresses distinct")
            print(f"  the last 400 creates (cloud at {max(0, args.ports - 400)}+ ports): p50 "
                  f"{ms(pct(lat[-400:], .5))}, p99 {ms(pct(lat[-400:], .99))}")
            if args.ports > 800:
                step = args.ports // 8
                print("  p50 by slice of the run (does the cost grow with the cloud?): " +
                      ", ".join(f"{i}+: {ms(pct(lat[i:i + step], .5))}"
                                for i in range(0, args.ports, step)))
            print(f"baseline network create (no IPAM, sequential): p50 "
                  f"{ms(pct(net_times, .5))}, p99 {ms(pct(net_times, .99))}")
        finally:
            api.stop()


# ---- l2pop convergence over fake hosts ---------------------------------------------
async def l2pop_fake(args: argparse.Namespace) -> None:
    import yaml
    from tests.e2e.vmhelpers import admin_token

    from kumo.agent.host import register
    from kumo.agent.network import NetworkAgent
    from kumo.client import ApiClient
    from kumo.drivers.compute import HostInfo
    from kumo.drivers.fakenet import FakeNet
    from kumo.model import network as nm

    with tempfile.TemporaryDirectory() as d:
        api = start_api(Path(d))
        tasks: list[asyncio.Task] = []
        try:
            creds = yaml.safe_load((api.data_dir / "service-credentials.yaml").read_text())
            creds["auth_url"] = api.base_url + "/v3"
            token = admin_token(api.base_url, api.admin_password)
            n = Neutron(api.base_url, token)
            agents = []
            info = HostInfo(8, 8192, 100, "fake", "fake", "x86_64")
            for i in range(args.hosts):
                client = ApiClient(creds)
                host = f"fake-{i:03d}"
                vtep = str(ipaddress.ip_address("198.18.1.0") + i)
                await register(client, host, info, vtep_ip=vtep, version="bench")
                agent = NetworkAgent(client, host, Path(d) / host, vtep, FakeNet(), dhcp=False)
                agents.append(agent)
                tasks.append(asyncio.create_task(agent.run()))
            net = (await n.post("networks", {"network": {"name": "l2"}}))["network"]
            vx = nm.vxlan_name(int(net["provider:segmentation_id"]))
            await n.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                                "cidr": "10.64.0.0/16"}})
            for a in agents:
                await n.post("ports", {"port": {"network_id": net["id"],
                                                "binding:host_id": a.host}})

            def programmed(a: NetworkAgent, mac: str) -> bool:
                try:
                    return any(m == mac for m, _ in a.net.fdb(vx))
                except Exception:
                    return False

            samples = []
            for s in range(args.samples):
                owner = agents[s % len(agents)]
                others = [a for a in agents if a is not owner]
                t0 = time.perf_counter()
                port = (await n.post("ports", {"port": {
                    "network_id": net["id"], "binding:host_id": owner.host}}))["port"]
                mac = port["mac_address"]
                pending = set(range(len(others)))
                while pending:
                    pending = {i for i in pending if not programmed(others[i], mac)}
                    if time.perf_counter() - t0 > 60:
                        raise SystemExit(f"l2pop did not converge: {len(pending)} hosts left")
                    await asyncio.sleep(0.002)
                samples.append(time.perf_counter() - t0)
            await n.close()
            print(f"l2pop, {args.hosts} fake hosts (in-memory net driver), port create+bind → "
                  f"FDB entry on all {args.hosts - 1} other hosts: p50 {ms(pct(samples, .5))}, "
                  f"p99 {ms(pct(samples, .99))}, max {ms(max(samples))} "
                  f"({args.samples} samples)")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            api.stop()


# ---- l2pop convergence over real hosts (namespaces) ---------------------------------
def l2pop_real(args: argparse.Namespace) -> None:
    import json

    from tests.multihost import MultiHost

    with MultiHost(args.hosts, driver="fake", net_driver="linux") as mh:
        os_ = mh.openstack
        net = os_("network", "create", "l2real")
        os_("subnet", "create", "--network", net["id"], "--subnet-range", "10.66.0.0/24",
            "l2real")
        vx = f"kvx-{os_('network', 'show', net['id'])['provider:segmentation_id']}"
        for i in range(1, args.hosts + 1):
            os_("port", "create", "--network", net["id"], "--host", f"host{i}", f"seed{i}")

        def has(i: int, mac: str) -> bool:
            p = mh.exec_in(i, ["bridge", "-j", "fdb", "show", "dev", vx], check=False)
            return p.returncode == 0 and mac in p.stdout and bool(json.loads(p.stdout or "[]"))

        samples = []
        for s in range(args.samples):
            owner = s % args.hosts + 1
            mac = f"fa:16:3e:77:00:{s:02x}"
            others = [i for i in range(1, args.hosts + 1) if i != owner]
            seen: dict[int, float] = {}

            def poll(i: int, mac: str = mac, seen: dict[int, float] = seen) -> None:
                deadline = time.time() + 60
                while time.time() < deadline:
                    if has(i, mac):
                        seen[i] = time.time()
                        return

            threads = [threading.Thread(target=poll, args=(i,)) for i in others]
            for t in threads:
                t.start()
            port = os_("port", "create", "--network", net["id"], "--host", f"host{owner}",
                       "--mac-address", mac, f"p{s}")
            for t in threads:
                t.join()
            if len(seen) != len(others):
                raise SystemExit(f"no convergence on hosts {set(others) - set(seen)}")
            obj = mh.kumo_get("ports", port["id"], namespace=port["project_id"])
            created = calendar.timegm(time.strptime(
                obj["metadata"]["creationTimestamp"][:19], "%Y-%m-%dT%H:%M:%S")) + float(
                "0." + obj["metadata"]["creationTimestamp"][20:26])
            samples.append(max(seen.values()) - created)
        print(f"l2pop, {args.hosts} real hosts (namespaces, kernel FDB), port bound → FDB "
              f"entry on every other host: p50 {ms(pct(samples, .5))}, p99 "
              f"{ms(pct(samples, .99))} ({args.samples} samples; from the port's "
              f"creationTimestamp in the store to `bridge fdb` showing it, polled every ~5 ms)")


# ---- agent full resync -------------------------------------------------------------
def _objects(ports: int) -> tuple[list, list, list, list]:
    nid = str(uuid.uuid4())
    sid = str(uuid.uuid4())
    net = {"kind": "Network", "metadata": {"name": nid, "namespace": "p"},
           "spec": {"segmentationId": 4242, "mtu": 1450}}
    sub = {"kind": "Subnet", "metadata": {"name": sid, "namespace": "p"},
           "spec": {"networkId": nid, "cidr": "10.96.0.0/20", "enableDhcp": False}}
    hosts = [{"kind": "Host", "metadata": {"name": f"h{i}"},
              "status": {"vtepIp": f"198.18.2.{i + 1}"}} for i in range(20)]
    plist = [{"kind": "Port", "metadata": {"name": str(uuid.uuid4()), "namespace": "p"},
              "spec": {"networkId": nid, "bindingHostId": "local", "deviceOwner": "compute:nova",
                       "macAddress": "fa:16:3e:ff:00:01",
                       "fixedIps": [{"subnetId": sid, "ipAddress": "10.96.0.2"}]}}]
    base = ipaddress.ip_address("10.96.1.0")
    for i in range(ports):
        mac = f"fa:16:3e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
        plist.append({"kind": "Port", "metadata": {"name": str(uuid.uuid4()), "namespace": "p"},
                      "spec": {"networkId": nid, "bindingHostId": f"h{i % 20}",
                               "deviceOwner": "compute:nova", "macAddress": mac,
                               "fixedIps": [{"subnetId": sid, "ipAddress": str(base + i)}]}})
    return plist, [net], [sub], hosts


async def _resync_once(net_driver: Any, label: str, ports: int) -> None:
    from kumo.agent.network import NetworkAgent

    agent = NetworkAgent(None, "local", Path(tempfile.mkdtemp()), "198.18.2.100", net_driver,
                         dhcp=False)  # type: ignore[arg-type]
    plist, nets, subs, hosts = _objects(ports)
    for inf, items in ((agent.ports, plist), (agent.networks, nets), (agent.subnets, subs),
                       (agent.hosts, hosts)):
        for o in items:
            inf.items[inf.key(o)] = o

    async def no_status(*a: Any, **k: Any) -> None:
        return None

    agent._report_plugged = no_status  # type: ignore[method-assign]  # no API in this bench
    first = await agent.sync()
    second = await agent.sync()
    vx = "kvx-4242"
    entries = sorted(net_driver.fdb(vx))[:100]
    for mac, dst in entries:
        _delete_fdb(net_driver, vx, mac, dst)
    third = await agent.sync()
    print(f"resync {label}: {ports} remote ports ({first['fdb']} FDB + {first['neigh']} "
          f"neighbour entries): first sync {first['seconds'] * 1000:.0f} ms "
          f"({first['changes']} changes), no-op resync {second['seconds'] * 1000:.0f} ms "
          f"({second['changes']} changes), repair of 100 deleted entries "
          f"{third['seconds'] * 1000:.0f} ms ({third['changes']} changes, "
          f"{agent.repairs} counted as repairs)")


def _delete_fdb(drv: Any, vx: str, mac: str, dst: str) -> None:
    if type(drv).__name__ == "FakeNet":
        current = drv.fdb(vx)
        drv.sync_fdb(vx, current - {(mac, dst)})
        return
    subprocess.run(["bridge", "fdb", "del", mac, "dev", vx, "dst", dst, "self"], check=True)


def resync(args: argparse.Namespace) -> None:
    if os.environ.get("KUMO_BENCH_IN_NS"):
        from kumo.drivers.linuxnet import LinuxNet

        asyncio.run(_resync_once(LinuxNet(), "linux (netlink, in a namespace)", args.ports))
        return
    from kumo.drivers.fakenet import FakeNet

    asyncio.run(_resync_once(FakeNet(), "in-memory driver (baseline)", args.ports))
    ns = f"kb-resync-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "--", sys.executable, __file__, "resync",
                        "--ports", str(args.ports)], check=True,
                       env={**os.environ, "KUMO_BENCH_IN_NS": "1"})
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("port-create")
    p.add_argument("--ports", type=int, default=400)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--profile", default="", help="write a cProfile of `kumo api` here")
    p.add_argument("--cidr", default="10.128.0.0/22", help="the subnet (10.128.0.0/19 for 6,400)")
    p = sub.add_parser("l2pop-fake")
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--samples", type=int, default=20)
    p = sub.add_parser("l2pop-real")
    p.add_argument("--hosts", type=int, default=3)
    p.add_argument("--samples", type=int, default=10)
    p = sub.add_parser("resync")
    p.add_argument("--ports", type=int, default=1000)
    args = ap.parse_args()
    if args.cmd == "port-create":
        asyncio.run(port_create(args))
    elif args.cmd == "l2pop-fake":
        asyncio.run(l2pop_fake(args))
    elif args.cmd == "l2pop-real":
        l2pop_real(args)
    else:
        resync(args)


if __name__ == "__main__":
    main()
