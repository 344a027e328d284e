"""Security groups on one host: change → enforced, and a full resync, with real nftables.

Programs the real tables (libnftables, one transaction per change) inside a network
namespace this benchmark makes and deletes; no packet is sent. Each measured change
runs what the agent runs on a watch event: recompute the desired ruleset from every
port and rule (network_secgroups_desired.compute), diff, one batch to the kernel.

    change   N ports, each with its own group of R rules (N×R rules on the host, 2 of
             each group's rules naming a remote group): add one rule to a group, remove
             it again, move a port into a remote group (one set element); p50/p95.
    resync   N ports × R rules rebuilt from nothing in one transaction (the agent's
             start and its repair), and the read-back verification pass.

    sudo .venv/bin/python bench/secgroup_bench.py change --ports 500 --rules 20
    sudo .venv/bin/python bench/secgroup_bench.py resync --ports 1000 --rules 20
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from kumo.agent import network_secgroups_desired as desired  # noqa: E402
from kumo.drivers.nftables import NftFirewall  # noqa: E402

Obj = dict[str, Any]


def _rule(gid: str, direction: str, proto: str | None = None, lo: int | None = None,
          prefix: str | None = None, remote: str | None = None) -> Obj:
    return {"metadata": {"name": str(uuid.uuid4()), "namespace": "p", "resourceVersion": "1"},
            "spec": {"securityGroupId": gid, "direction": direction, "ethertype": "IPv4",
                     "protocol": proto, "portRangeMin": lo, "portRangeMax": lo,
                     "remoteIpPrefix": prefix, "remoteGroupId": remote}}


def world(ports: int, rules: int) -> tuple[list[Obj], list[Obj]]:
    port_objs, rule_objs = [], []
    groups = [str(uuid.uuid4()) for _ in range(ports)]
    for i, gid in enumerate(groups):
        port_objs.append({"metadata": {"name": str(uuid.uuid4()), "namespace": "p",
                                       "resourceVersion": "1"}, "spec": {
            "macAddress": f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            "fixedIps": [{"ipAddress": f"10.{100 + (i >> 16)}.{i >> 8 & 255}.{i & 255}"}],
            "securityGroups": [gid], "bindingHostId": "h", "deviceOwner": "compute:nova"}})
        rule_objs.append(_rule(gid, "egress"))
        for n in range(rules - 1):
            if n < 2:
                rule_objs.append(_rule(gid, "ingress", "tcp", 5000 + n,
                                       remote=groups[(i + 1 + n) % ports]))
            else:
                rule_objs.append(_rule(gid, "ingress", "tcp", 1000 + n, prefix=f"10.{n}.0.0/16"))
    return port_objs, rule_objs


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


MEMO = desired.Memo()
KERNEL: list[float] = []  # the libnftables part of each timed change
INDEX = desired.RuleIndex()


def touch(obj: Obj) -> None:
    """A new resourceVersion, as the store gives every write."""
    obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)


def timed(fw: NftFirewall, ports: list[Obj], rules: list[Obj], change: Obj | None = None,
          typ: str = "ADDED") -> float:
    """The agent's work for one watch event: index the changed rule, recompute, apply."""
    t0 = time.perf_counter()
    if change is not None:
        INDEX.event(typ, change)
    elif INDEX.size != len(rules):
        INDEX.reset(rules)
    KERNEL.append(fw.apply(desired.compute("h", ports, INDEX, MEMO)).kernel_seconds)
    return time.perf_counter() - t0


def bench_change(fw: NftFirewall, args: argparse.Namespace) -> None:
    ports, rules = world(args.ports, args.rules)
    t_full = timed(fw, ports, rules)
    print(f"{args.ports} ports × {args.rules} rules: {fw.applied.rules()} nftables rules, "
          f"{fw.applied.elements()} set elements; initial build {ms(t_full)}")
    add, remove, member = [], [], []
    rnd = random.Random(1)
    for i in range(args.samples):
        gid = rnd.choice(ports)["spec"]["securityGroups"][0]
        extra = _rule(gid, "ingress", "udp", 20000 + i, prefix="0.0.0.0/0")
        rules.append(extra)
        add.append(timed(fw, ports, rules, extra))
        rules.remove(extra)
        remove.append(timed(fw, ports, rules, extra, "DELETED"))
        port = rnd.choice(ports)
        other = rnd.choice(ports)["spec"]["securityGroups"][0]
        port["spec"]["securityGroups"].append(other)
        touch(port)
        member.append(timed(fw, ports, rules))
        port["spec"]["securityGroups"].remove(other)
        touch(port)
        timed(fw, ports, rules)
    for what, xs in (("rule added", add), ("rule removed", remove),
                     ("port joins a remote group", member)):
        print(f"  {what:28} p50 {ms(pct(xs, .5))}  p95 {ms(pct(xs, .95))}  "
              f"max {ms(max(xs))}  (n={len(xs)})")
    print(f"  of which libnftables: p50 {ms(pct(KERNEL, .5))}  p95 {ms(pct(KERNEL, .95))}")
    t0 = time.perf_counter()
    drift = fw.verify()
    print(f"  verify (read back, compare): {ms(time.perf_counter() - t0)}, drift {drift[:3]}")


def bench_resync(fw: NftFirewall, args: argparse.Namespace) -> None:
    ports, rules = world(args.ports, args.rules)
    runs = []
    for _ in range(args.samples):
        t0 = time.perf_counter()
        rs = desired.compute("h", ports, rules)
        t_compute = time.perf_counter() - t0
        fw.apply(rs, full=True)
        runs.append((time.perf_counter() - t0, t_compute))
    t0 = time.perf_counter()
    drift = fw.verify()
    t_verify = time.perf_counter() - t0
    print(f"full resync, {args.ports} ports × {args.rules} rules ({fw.applied.rules()} "
          f"nftables rules, {fw.applied.elements()} set elements, one transaction): "
          f"median {statistics.median(r[0] for r in runs):.2f} s, worst "
          f"{max(r[0] for r in runs):.2f} s (desired-state computation "
          f"{ms(statistics.median(r[1] for r in runs))}); verify {t_verify:.2f} s, "
          f"drift {drift[:3]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["change", "resync"])
    ap.add_argument("--ports", type=int, default=500)
    ap.add_argument("--rules", type=int, default=20)
    ap.add_argument("--samples", type=int, default=40)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (it makes a network namespace)")
    ns = "ksgbench" + secrets.token_hex(3)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    fw = NftFirewall(netns=ns)
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); "
              f"backend: libnftables via ctypes")
        (bench_change if args.what == "change" else bench_resync)(fw, args)
    finally:
        fw.close()
        subprocess.run(["ip", "netns", "del", ns], check=True)


if __name__ == "__main__":
    main()
