"""Router and floating-IP figures against a real `kumo up` (fake VMs, Linux networking).

    .venv/bin/python bench/router_bench.py [--samples 10] [--iperf-seconds 5]

Everything runs inside a network namespace this script creates (the cloud, its bridges)
plus small probe namespaces standing in for guests and for the external network's far
side; all are deleted at the end. Figures:

- router create -> interfaces serving: create a router, add interfaces on two subnets,
  until a TCP connect from a probe on net A to a probe on net B succeeds through it;
- floating IP associate -> reachable: PUT port_id on a FIP, until a TCP connect from
  the external namespace to the FIP succeeds (then disassociate, repeat);
- throughput (iperf3, Debian's) probe A -> probe B through the router namespace vs
  probe A -> probe A2 on the same bridge, in the same run, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import LiveCloud, free_port  # noqa: E402


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=60)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class Probes:
    """Guest stand-ins: a namespace with one veth on a bridge of the cloud's namespace."""

    def __init__(self, tok: str) -> None:
        self.tok = tok
        self.made: list[str] = []
        self.kumo_ns: list[str] = []  # qrouter-/qdhcp- of this run's routers and networks
        self.procs: list[subprocess.Popen[str]] = []

    def add(self, tag: str, bridge: str, cidr: str, gw: str | None) -> str:
        ns = f"kb{self.tok}-{tag}"
        run("ip", "netns", "add", ns)
        self.made.append(ns)
        host_if = f"kb{self.tok}{tag}"[:15]
        run("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        run("ip", "link", "set", host_if, "master", bridge, "up")
        for argv in (["addr", "add", cidr, "dev", "eth0"], ["link", "set", "eth0", "up"],
                     ["link", "set", "lo", "up"]):
            run("ip", "-n", ns, *argv)
        if gw:
            run("ip", "-n", ns, "route", "add", "default", "via", gw)
        return ns

    def listen(self, ns: str, port: int) -> None:
        code = ("import socket;s=socket.socket();s.setsockopt(1,2,1);"
                f"s.bind(('0.0.0.0',{port}));s.listen(64)\nwhile True: s.accept()[0].close()")
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c",
                                            code], text=True))

    def close(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        for ns in self.made + self.kumo_ns:
            run("ip", "netns", "del", ns, check=False)


def connects(ns: str, ip: str, port: int) -> bool:
    code = (f"import socket;socket.create_connection(('{ip}',{port}),timeout=0.3).close()")
    return run("ip", "netns", "exec", ns, sys.executable, "-c", code, check=False
               ).returncode == 0


def wait_connect(ns: str, ip: str, port: int, t0: float, timeout: float = 30) -> float:
    while time.perf_counter() - t0 < timeout:
        if connects(ns, ip, port):
            return time.perf_counter() - t0
        time.sleep(0.02)
    for argv in (["ip", "-n", ns, "-br", "addr"], ["ip", "-n", ns, "route"],
                 ["ip", "-br", "link"], ["ip", "netns", "list"]):
        print(" ".join(argv), "\n", run(*argv, check=False).stdout, file=sys.stderr)
    raise TimeoutError(f"{ip}:{port} not reachable from {ns}")


def wait_bridge(conn: Any, net_id: str) -> str:
    vni = conn.network.get_network(net_id).provider_segmentation_id
    deadline = time.time() + 30
    while time.time() < deadline:
        if run("ip", "link", "show", f"kbr-{vni}", check=False).returncode == 0:
            return f"kbr-{vni}"
        time.sleep(0.1)
    raise TimeoutError(f"bridge kbr-{vni}")


def iperf(client: str, server_ns: str, ip: str, seconds: int, probes: Probes) -> float:
    probes.procs.append(subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s",
                                          "-1", "-p", "5201"], text=True,
                                         stdout=subprocess.DEVNULL))
    time.sleep(0.5)
    out = run("ip", "netns", "exec", client, "iperf3", "-c", ip, "-p", "5201", "-t",
              str(seconds), "-J").stdout
    return float(json.loads(out)["end"]["sum_received"]["bits_per_second"]) / 1e9


def bench(conn: Any, probes: Probes, samples: int, iperf_seconds: int) -> dict[str, Any]:
    host = socket.gethostname().split(".")[0] or "kumo"
    public = conn.network.find_network("public")
    nets, subs = {}, {}
    for tag, cidr in (("a", "10.61.0.0/24"), ("b", "10.62.0.0/24")):
        nets[tag] = conn.network.create_network(name=f"bench-{tag}")
        subs[tag] = conn.network.create_subnet(network_id=nets[tag].id, ip_version=4,
                                               cidr=cidr)
        # a port bound here makes the bridge exist before any router does
        conn.network.create_port(network_id=nets[tag].id, binding_host_id=host)
        probes.kumo_ns.append(f"qdhcp-{nets[tag].id}")
    br_a, br_b = wait_bridge(conn, nets["a"].id), wait_bridge(conn, nets["b"].id)
    pa = probes.add("a", br_a, "10.61.0.5/24", "10.61.0.1")
    pa2 = probes.add("a2", br_a, "10.61.0.6/24", "10.61.0.1")
    pb = probes.add("b", br_b, "10.62.0.5/24", "10.62.0.1")
    probes.listen(pb, 7000)
    probes.listen(pa, 7001)

    create: list[float] = []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = conn.network.create_router(name="bench-r")
        probes.kumo_ns.append(f"qrouter-{r.id}")
        for tag in ("a", "b"):
            conn.network.add_interface_to_router(r, subnet_id=subs[tag].id)
        create.append(wait_connect(pa, "10.62.0.5", 7000, t0))
        for tag in ("a", "b"):
            conn.network.remove_interface_from_router(r, subnet_id=subs[tag].id)
        conn.network.delete_router(r)
        while connects(pa, "10.62.0.5", 7000):
            time.sleep(0.05)

    r = conn.network.create_router(name="bench-fip",
                                   external_gateway_info={"network_id": public.id})
    probes.kumo_ns.append(f"qrouter-{r.id}")
    for tag in ("a", "b"):
        conn.network.add_interface_to_router(r, subnet_id=subs[tag].id)
    port = conn.network.create_port(network_id=nets["a"].id, fixed_ips=[
        {"subnet_id": subs["a"].id, "ip_address": "10.61.0.5"}])
    br_ext = wait_bridge(conn, public.id)
    ext = probes.add("x", br_ext, "172.24.4.1/24", None)
    fip = conn.network.create_ip(floating_network_id=public.id)
    assoc: list[float] = []
    for _ in range(samples):
        t0 = time.perf_counter()
        conn.network.update_ip(fip, port_id=port.id)
        assoc.append(wait_connect(ext, fip.floating_ip_address, 7001, t0))
        conn.network.update_ip(fip, port_id=None)
        while connects(ext, fip.floating_ip_address, 7001):
            time.sleep(0.05)

    bridged = iperf(pa, pa2, "10.61.0.6", iperf_seconds, probes)
    routed = iperf(pa, pb, "10.62.0.5", iperf_seconds, probes)
    return {"router_create_to_serving_s": {"p50": pct(create, 0.5), "max": max(create),
                                           "samples": [round(x, 3) for x in create]},
            "fip_associate_to_reachable_s": {"p50": pct(assoc, 0.5), "max": max(assoc),
                                             "samples": [round(x, 3) for x in assoc]},
            "iperf3_gbit_s": {"same_bridge": round(bridged, 2), "through_router":
                              round(routed, 2), "ratio": round(routed / bridged, 3)},
            "load_average": os.getloadavg()}


def inside(samples: int, iperf_seconds: int) -> None:
    import openstack

    tmp = Path(tempfile.mkdtemp(prefix="kumo-rb-"))
    cloud = LiveCloud(tmp / "data", free_port(),
                      args=["--driver", "fake", "--net-driver", "linux", "--no-image"])
    probes = Probes(secrets.token_hex(2))
    try:
        cloud.start(timeout=60)
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(cloud.clouds_yaml)
        conn = openstack.connect(cloud="kumo")
        deadline = time.time() + 30
        while conn.network.find_network("public") is None and time.time() < deadline:
            time.sleep(0.2)
        try:
            print(json.dumps(bench(conn, probes, samples, iperf_seconds), indent=2))
        except TimeoutError:
            for ns in probes.kumo_ns:
                if ns.startswith("qrouter-"):
                    print(ns, run("ip", "-n", ns, "-br", "addr", check=False).stdout,
                          run("ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_forward",
                              check=False).stdout, file=sys.stderr)
            print(cloud.log_path.read_text()[-4000:], file=sys.stderr)
            raise
    finally:
        cloud.stop()  # first: a live agent would re-create what probes.close() deletes
        cloud.kill_vms()
        probes.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--iperf-seconds", type=int, default=5)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        inside(args.samples, args.iperf_seconds)
        return
    ns = f"kb-{secrets.token_hex(3)}"
    run("ip", "netns", "add", ns)
    try:
        run("ip", "-n", ns, "link", "set", "lo", "up")
        subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "--", sys.executable, __file__,
                        "--inside", "--samples", str(args.samples), "--iperf-seconds",
                        str(args.iperf_seconds)], check=True)
    finally:
        run("ip", "netns", "del", ns, check=False)


if __name__ == "__main__":
    main()
