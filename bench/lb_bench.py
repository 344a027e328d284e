"""Load-balancer figures against a real `kumo up` (fake VMs, Linux networking, HAProxy).

    .venv/bin/python bench/lb_bench.py [--samples 10] [--seconds 8]

The cloud runs in a network namespace this script creates; backends and the client are
namespaces on the tenant network (tests/loadbalancer/livelb.py); all deleted at the end.
Figures (openstacksdk, polling every 50 ms):

- create -> ACTIVE: a load balancer alone, and with a listener, a pool and 2 members
  (each child created as soon as the LB is ACTIVE again; p50 / p90 of ``--samples``);
- member change -> in effect: a member added until the client first gets its answer
  through the VIP (runtime API, no reload);
- requests/s through the VIP vs straight to one member, in the same run (ratio), and the
  failed requests while members are added, re-weighted, removed and the listener reloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import LiveCloud  # noqa: E402
from tests.loadbalancer import backends  # noqa: E402
from tests.loadbalancer.livelb import LbWorld, lb_world  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))], 3)


def active(lbp: Any, lb_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = lbp.get_load_balancer(lb_id).provisioning_status
        if st == "ACTIVE":
            return
        if st == "ERROR":
            raise RuntimeError(f"load balancer {lb_id} ERROR")
        time.sleep(0.05)
    raise TimeoutError(lb_id)


def create_times(lbp: Any, sub: str, ips: list[str], samples: int) -> dict[str, Any]:
    alone, full = [], []
    for _ in range(samples):
        t0 = time.monotonic()
        lb = lbp.create_load_balancer(vip_subnet_id=sub)
        active(lbp, lb.id)
        alone.append(time.monotonic() - t0)
        listener = lbp.create_listener(loadbalancer_id=lb.id, protocol="HTTP", protocol_port=80)
        active(lbp, lb.id)
        pool = lbp.create_pool(listener_id=listener.id, protocol="HTTP",
                               lb_algorithm="ROUND_ROBIN")
        for ip in ips:
            active(lbp, lb.id)
            lbp.create_member(pool, address=ip, protocol_port=8080)
        active(lbp, lb.id)
        full.append(time.monotonic() - t0)
        lbp.delete_load_balancer(lb.id, cascade=True)
    one = tree_times(lbp, sub, ips, samples)
    return {"lb_tree_one_post_p50_s": pct(one, 0.5), "lb_tree_one_post_p90_s": pct(one, 0.9),
            "lb_alone_p50_s": pct(alone, 0.5), "lb_alone_p90_s": pct(alone, 0.9),
            "lb_listener_pool_2members_p50_s": pct(full, 0.5),
            "lb_listener_pool_2members_p90_s": pct(full, 0.9), "samples": samples}


def member_times(lbp: Any, w: LbWorld, lb: Any, pool: Any, b: Any, client: Any,
                 samples: int) -> dict[str, Any]:
    vip = f"http://{lb.vip_address}/"
    took = []
    for _ in range(samples):
        active(lbp, lb.id)
        t0 = time.monotonic()
        m = lbp.create_member(pool, address=b.ip, protocol_port=8080)
        while backends.get(client.ns, vip, timeout=1) != "B":
            if time.monotonic() - t0 > 30:
                raise TimeoutError("member B never answered")
        took.append(time.monotonic() - t0)
        active(lbp, lb.id)
        lbp.delete_member(m, pool)
    return {"member_add_in_effect_p50_s": pct(took, 0.5),
            "member_add_in_effect_p90_s": pct(took, 0.9)}


def loadgen(ns: str, ip: str, port: int, seconds: float) -> dict[str, Any]:
    out, _ = backends.loadgen(ns, ip, port, seconds, workers=16).communicate(timeout=300)
    return json.loads(out)


def tree_times(lbp: Any, sub: str, ips: list[str], samples: int) -> list[float]:
    """The same tree in one POST (Octavia's single-call create): one generation."""
    out = []
    tree = [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {
        "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
        "members": [{"address": ip, "protocol_port": 8080} for ip in ips]}}]
    for _ in range(samples):
        t0 = time.monotonic()
        lb = lbp.create_load_balancer(vip_subnet_id=sub, listeners=tree)
        active(lbp, lb.id)
        out.append(time.monotonic() - t0)
        lbp.delete_load_balancer(lb.id, cascade=True)
    return out


def inside(data_dir: str, port: int, netns: str, tag: str, samples: int,
           seconds: float) -> None:
    import openstack

    cloud = LiveCloud(Path(data_dir), port, netns=netns)
    w = LbWorld(cloud, tag)
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(cloud.clouds_yaml)
    conn = openstack.connect(cloud="kumo")
    lbp = conn.load_balancer
    net = conn.network.create_network(name="bench-lb")
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.62.0.0/24")
    vni = int(conn.network.get_network(net.id).provider_segmentation_id)
    ports = [conn.network.create_port(network_id=net.id) for _ in range(3)]
    views = [{"fixed_ips": p.fixed_ips, "mac_address": p.mac_address} for p in ports]
    out: dict[str, Any] = create_times(lbp, sub.id, [v["fixed_ips"][0]["ip_address"]
                                                     for v in views[:2]], samples)
    lb = lbp.create_load_balancer(vip_subnet_id=sub.id)
    active(lbp, lb.id)
    a, b, client = (w.plug(v, vni, 24) for v in views)
    w.serve(a, "A")
    w.serve(b, "B")
    listener = lbp.create_listener(loadbalancer_id=lb.id, protocol="HTTP", protocol_port=80)
    active(lbp, lb.id)
    pool = lbp.create_pool(listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    active(lbp, lb.id)
    lbp.create_member(pool, address=a.ip, protocol_port=8080)
    active(lbp, lb.id)
    lb = lbp.get_load_balancer(lb.id)
    out.update(member_times(lbp, w, lb, pool, b, client, samples))
    direct = loadgen(client.ns, a.ip, 8080, seconds)
    via = loadgen(client.ns, lb.vip_address, 80, seconds)
    out["rps_direct"] = round(direct["ok"] / direct["seconds"], 1)
    out["rps_via_lb"] = round(via["ok"] / via["seconds"], 1)
    out["rps_ratio_lb_over_direct"] = round(out["rps_via_lb"] / max(out["rps_direct"], 1), 3)
    out["failed_direct_or_via"] = direct["failed"] + via["failed"]
    gen = backends.loadgen(client.ns, lb.vip_address, 80, seconds + 6, workers=4)
    active(lbp, lb.id)
    mb = lbp.create_member(pool, address=b.ip, protocol_port=8080)
    active(lbp, lb.id)
    lbp.update_member(mb, pool, weight=5)
    for limit in (1000, 2000, 3000):
        active(lbp, lb.id)
        lbp.update_listener(listener, connection_limit=limit)
    active(lbp, lb.id)
    lbp.delete_member(mb, pool)
    active(lbp, lb.id)
    report = json.loads(gen.communicate(timeout=300)[0])
    out["changes_under_load"] = {"requests_ok": report["ok"], "failed": report["failed"],
                                 "errors": report["errors"],
                                 "retried_idle_close": report["retried_idle_close"],
                                 "changes": "member add, weight, 3 listener reloads, remove"}
    out["load_1min"] = os.getloadavg()[0]
    lbp.delete_load_balancer(lb.id, cascade=True)
    for g in w.guests:
        w.stop_serving(g)
    print(json.dumps(out, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--inside", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        data_dir, port, netns, tag = args.inside
        inside(data_dir, int(port), netns, tag, args.samples, args.seconds)
        return
    world_gen = lb_world()
    w = next(world_gen)
    try:
        subprocess.run([*w.cloud.ns_prefix(), sys.executable, __file__, "--samples",
                        str(args.samples), "--seconds", str(args.seconds), "--inside",
                        str(w.cloud.data_dir), str(w.cloud.port), str(w.cloud.netns), w.tag],
                       check=True, env=w.cloud.env())
    finally:
        world_gen.close()


if __name__ == "__main__":
    main()
