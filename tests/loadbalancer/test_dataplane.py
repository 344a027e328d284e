"""The data plane, end to end: `openstack loadbalancer …` (python-octaviaclient) against a
live cloud whose agent runs a real HAProxy in ``qlb-<id>``; two backends (namespaces on the
tenant network serving their name) behind an HTTP listener; a client namespace probes.

Round robin observed; a member stopped is marked ERROR (HAProxy's check) and the LB
DEGRADED, then ONLINE again; members added, re-weighted and removed and the listener
reconfigured under steady load with zero failed requests; stats served; cascade delete
removes the namespace."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.vmhelpers import wait_for

from . import backends
from .livelb import LbWorld, lb_world

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(backends.can_netns() is not None,
                                 reason=str(backends.can_netns()))]


@pytest.fixture(scope="module")
def world() -> Iterator[LbWorld]:
    yield from lb_world()


def _ports(w: LbWorld, net_id: str, n: int) -> list[dict]:
    return [w.cloud.openstack("port", "create", "--network", net_id, f"g{i}")
            for i in range(n)]


def test_http_lb_round_robin_health_and_zero_loss(world: LbWorld) -> None:  # noqa: PLR0915
    os_ = world.cloud.openstack
    net = os_("network", "create", "lb-net")
    sub = os_("subnet", "create", "--network", net["id"], "--subnet-range",
              "10.60.0.0/24", "lb-sub")
    vni = int(os_("network", "show", net["id"])["provider:segmentation_id"])
    lb = os_("loadbalancer", "create", "--name", "web", "--vip-subnet-id", sub["id"],
             "--wait")
    assert lb["provisioning_status"] == "ACTIVE" and lb["provider"] == "kumo"
    lid = lb["id"]
    listener = os_("loadbalancer", "listener", "create", "--protocol", "HTTP",
                   "--protocol-port", "80", "--wait", lid)
    pool = os_("loadbalancer", "pool", "create", "--protocol", "HTTP", "--lb-algorithm",
               "ROUND_ROBIN", "--listener", listener["id"], "--wait")
    p1, p2, p3, pc = _ports(world, net["id"], 4)
    a, b, c, client = (world.plug(p, vni, 24) for p in (p1, p2, p3, pc))
    world.serve(a, "A")
    world.serve(b, "B")
    world.serve(c, "C")
    ma = os_("loadbalancer", "member", "create", "--address", a.ip, "--protocol-port", "8080",
             "--wait", pool["id"])
    os_("loadbalancer", "member", "create", "--address", b.ip, "--protocol-port", "8080",
        "--wait", pool["id"])
    os_("loadbalancer", "healthmonitor", "create", "--type", "HTTP", "--delay", "1",
        "--timeout", "1", "--max-retries", "1", "--max-retries-down", "2", "--url-path", "/",
        "--wait", pool["id"])
    vip = f"http://{lb['vip_address']}/"
    got = [backends.get(client.ns, vip) for _ in range(6)]
    assert sorted(got) == ["A", "A", "A", "B", "B", "B"], got
    assert got[0] != got[1]  # alternating: round robin

    def status(kind: str, *ident: str) -> str:
        return str(os_("loadbalancer", *kind.split(), "show", *ident)["operating_status"])

    wait_for("LB ONLINE", lambda: status("", lid) == "ONLINE", timeout=20)
    world.stop_serving(a)
    wait_for("member A ERROR", lambda: status("member", pool["id"], ma["id"]) == "ERROR",
             timeout=20)
    assert status("", lid) == "DEGRADED"
    assert {backends.get(client.ns, vip) for _ in range(4)} == {"B"}
    world.serve(a, "A")
    wait_for("member A ONLINE", lambda: status("member", pool["id"], ma["id"]) == "ONLINE",
             timeout=20)
    wait_for("LB ONLINE again", lambda: status("", lid) == "ONLINE", timeout=10)

    # zero failed requests across member add / weight / remove and listener reloads
    gen = backends.loadgen(client.ns, lb["vip_address"], 80, seconds=12, workers=4)
    mc = os_("loadbalancer", "member", "create", "--address", c.ip, "--protocol-port", "8080",
             "--wait", pool["id"])
    os_("loadbalancer", "member", "set", "--weight", "5", "--wait", pool["id"], mc["id"],
        json_out=False)
    for limit in ("1000", "2000"):
        os_("loadbalancer", "listener", "set", "--connection-limit", limit, "--wait",
            listener["id"], json_out=False)
    os_("loadbalancer", "member", "delete", "--wait", pool["id"], ma["id"], json_out=False)
    out, err = gen.communicate(timeout=60)
    report = json.loads(out)
    assert report["failed"] == 0, report
    assert report["ok"] > 100 and set(report["seen"]) == {"A", "B", "C"}, report

    # counters from HAProxy's stats socket, written by the agent every few seconds
    stats = wait_for("stats", lambda: (s := os_("loadbalancer", "stats", "show", lid))[
        "total_connections"] > 0 and s, timeout=15)
    assert stats["bytes_out"] > 0, stats
    tree = os_("loadbalancer", "status", "show", lid, json_out=False).stdout
    assert listener["id"] in tree and "ONLINE" in tree

    os_("loadbalancer", "delete", "--cascade", "--wait", lid, json_out=False)
    wait_for("qlb namespace removed", lambda: f"qlb-{lid}" not in subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True).stdout, timeout=20)


SDK_SCRIPT = r"""
import sys, openstack
from openstack import exceptions as exc
conn = openstack.connect(cloud="kumo")
lbp = conn.load_balancer
net = conn.network.create_network(name="sdk-lb-net")
sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.61.0.0/24")
lb = lbp.create_load_balancer(name="sdk-lb", vip_subnet_id=sub.id)
try:
    lbp.update_load_balancer(lb, name="too-soon")
    immutable = False
except exc.ConflictException:
    immutable = True
assert lb.provisioning_status == "PENDING_CREATE" and immutable, lb
lb = lbp.wait_for_load_balancer(lb.id, wait=60)
assert lb.provisioning_status == "ACTIVE" and lb.vip_address.startswith("10.61.0."), lb
listener = lbp.create_listener(loadbalancer_id=lb.id, protocol="TCP", protocol_port=8443)
lbp.wait_for_load_balancer(lb.id, wait=60)
pool = lbp.create_pool(listener_id=listener.id, protocol="TCP", lb_algorithm="SOURCE_IP")
lbp.wait_for_load_balancer(lb.id, wait=60)
member = lbp.create_member(pool, address="10.61.0.50", protocol_port=8443, weight=7)
lbp.wait_for_load_balancer(lb.id, wait=60)
hm = lbp.create_health_monitor(pool_id=pool.id, type="TCP", delay=2, timeout=1,
                               max_retries=2)
lbp.wait_for_load_balancer(lb.id, wait=60)
assert [m.id for m in lbp.members(pool)] == [member.id]
assert lbp.get_member(member, pool).weight == 7
assert lbp.get_health_monitor(hm.id).pools == [{"id": pool.id}]
assert [p.name for p in lbp.providers()] == ["kumo"]
stats = lbp.get_load_balancer_statistics(lb.id)
assert stats.total_connections == 0
try:
    lbp.get_pool("00000000-0000-0000-0000-000000000000")
    raise AssertionError("no 404")
except exc.ResourceNotFound:
    pass
try:
    lbp.delete_load_balancer(lb.id)
    raise AssertionError("deleted with children")
except exc.BadRequestException:
    pass
lbp.delete_load_balancer(lb.id, cascade=True)
try:
    lbp.get_load_balancer(lb.id)
    raise AssertionError("still there")
except exc.ResourceNotFound:
    pass
print("SDK-OK")
"""


def test_loadbalancer_sdk(world: LbWorld) -> None:
    """openstacksdk's load-balancer proxy, run inside the cloud's namespace."""
    import sys

    p = subprocess.run([*world.cloud.ns_prefix(), sys.executable, "-c", SDK_SCRIPT],
                       capture_output=True, text=True, env=world.cloud.env(), timeout=300,
                       check=False)
    assert p.returncode == 0 and "SDK-OK" in p.stdout, p.stderr[-3000:]


def _code(netns: str, url: str, timeout: float = 2.0) -> tuple[int, str]:
    """(curl's exit code, the HTTP status) of one GET from inside ``netns``."""
    res = subprocess.run(["ip", "netns", "exec", netns, "curl", "-s", "-o", "/dev/null",
                          "-w", "%{http_code}", "-m", str(timeout), url],
                         capture_output=True, text=True)
    return res.returncode, res.stdout


def test_l7_policies_and_vip_security_group(world: LbWorld) -> None:
    """An L7 path rule sends /static to the other pool, a REJECT rule answers 403 (both
    through `openstack loadbalancer l7policy/l7rule`); the VIP's group lets the
    listener's port in and drops another port that something listens on."""
    os_ = world.cloud.openstack
    net = os_("network", "create", "l7-net")
    sub = os_("subnet", "create", "--network", net["id"], "--subnet-range",
              "10.62.0.0/24", "l7-sub")
    vni = int(os_("network", "show", net["id"])["provider:segmentation_id"])
    lb = os_("loadbalancer", "create", "--vip-subnet-id", sub["id"], "--wait")
    listener = os_("loadbalancer", "listener", "create", "--protocol", "HTTP",
                   "--protocol-port", "80", "--wait", lb["id"])
    pools = [os_("loadbalancer", "pool", "create", "--protocol", "HTTP", "--lb-algorithm",
                 "ROUND_ROBIN", *args, "--wait") for args in
             (["--listener", listener["id"]], ["--loadbalancer", lb["id"]])]
    app, static, client = (world.plug(p, vni, 24) for p in _ports(world, net["id"], 3))
    world.serve(app, "APP")
    world.serve(static, "STATIC")
    for guest, pool in ((app, pools[0]), (static, pools[1])):
        os_("loadbalancer", "member", "create", "--address", guest.ip, "--protocol-port",
            "8080", "--wait", pool["id"])
    to_pool = os_("loadbalancer", "l7policy", "create", "--action", "REDIRECT_TO_POOL",
                  "--redirect-pool", pools[1]["id"], "--wait", listener["id"])
    os_("loadbalancer", "l7rule", "create", "--type", "PATH", "--compare-type",
        "STARTS_WITH", "--value", "/static", "--wait", to_pool["id"])
    reject = os_("loadbalancer", "l7policy", "create", "--action", "REJECT", "--wait",
                 listener["id"])
    os_("loadbalancer", "l7rule", "create", "--type", "PATH", "--compare-type", "REGEX",
        "--value", "^/admin", "--wait", reject["id"])
    vip = f"http://{lb['vip_address']}"
    wait_for("listener reachable", lambda: backends.get(client.ns, vip + "/") == "APP",
             timeout=20)
    assert {backends.get(client.ns, vip + "/static/a.css") for _ in range(3)} == {"STATIC"}
    assert backends.get(client.ns, vip + "/index.html") == "APP"
    assert _code(client.ns, vip + "/admin/x") == (0, "403")
    assert _code(client.ns, vip + "/static")[1] == "200"

    # the VIP's security group: port 80 in, another port dropped though a server is there
    inside = backends.start_backend(f"qlb-{lb['id']}", lb["vip_address"], 9999, "SIDE")
    try:
        rc, _ = _code(client.ns, f"{vip}:9999/", timeout=2)
        assert rc == 28, rc  # a timeout: dropped by the group, not refused
        assert backends.get(client.ns, vip + "/") == "APP"
    finally:
        inside.kill()
        inside.wait()
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], json_out=False)
