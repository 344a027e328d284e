"""Octavia's single-call create: a load balancer with listeners, pools, members, a
monitor and L7 policies in one POST, ACTIVE with the LB's first generation; a tree that
breaks a rule leaves nothing behind (no LB, no VIP port, no VIP group)."""

from __future__ import annotations

from tests.loadbalancer.conftest import Octavia
from tests.network.conftest import Tenant

TREE = {"listeners": [{
    "name": "web", "protocol": "HTTP", "protocol_port": 80,
    "default_pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                     "members": [{"address": "10.0.0.11", "protocol_port": 8080},
                                 {"address": "10.0.0.12", "protocol_port": 8080}],
                     "healthmonitor": {"type": "HTTP", "delay": 2, "timeout": 1,
                                       "max_retries": 2, "url_path": "/health"}},
    "l7policies": [{"action": "REDIRECT_TO_POOL",
                    "redirect_pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                                      "members": [{"address": "10.0.0.13",
                                                   "protocol_port": 8080}]},
                    "rules": [{"type": "PATH", "compare_type": "STARTS_WITH",
                               "value": "/static"}]}]}],
    "pools": [{"protocol": "TCP", "lb_algorithm": "SOURCE_IP"}]}


async def test_single_call_tree(octavia: Octavia, alice: Tenant) -> None:
    o = octavia
    sub = await o.vip_subnet(alice)
    lb = (await o.lb_ok("POST", "/lbaas/loadbalancers", alice, 201, json={
        "loadbalancer": {"vip_subnet_id": sub["id"], **TREE}}))["loadbalancer"]
    assert len(lb["listeners"]) == 1 and len(lb["pools"]) == 3
    await o.observe(lb["id"])
    listener = (await o.lb_ok("GET", f"/lbaas/listeners/{lb['listeners'][0]['id']}",
                              alice))["listener"]
    assert listener["provisioning_status"] == "ACTIVE" and listener["name"] == "web"
    pool = (await o.lb_ok("GET", f"/lbaas/pools/{listener['default_pool_id']}",
                          alice))["pool"]
    assert len(pool["members"]) == 2 and pool["healthmonitor_id"]
    hm = (await o.lb_ok("GET", f"/lbaas/healthmonitors/{pool['healthmonitor_id']}",
                        alice))["healthmonitor"]
    assert hm["url_path"] == "/health" and hm["provisioning_status"] == "ACTIVE"
    policy = (await o.lb_ok("GET", f"/lbaas/l7policies/{listener['l7policies'][0]['id']}",
                            alice))["l7policy"]
    assert policy["redirect_pool_id"] in {p["id"] for p in lb["pools"]}
    assert len(policy["rules"]) == 1 and policy["provisioning_status"] == "ACTIVE"


async def test_single_call_tree_refused_leaves_nothing(octavia: Octavia,
                                                       alice: Tenant) -> None:
    o = octavia
    sub = await o.vip_subnet(alice)
    before = (await o.ok("GET", "/v2.0/ports", alice))["ports"]
    bad_tree = {"listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {
        "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}]}  # TCP pool on HTTP: 400
    msg = await o.lb_fail("POST", "/lbaas/loadbalancers", alice, 400, json={
        "loadbalancer": {"vip_subnet_id": sub["id"], **bad_tree}})
    assert "pool protocol" in msg
    await o.lb_fail("POST", "/lbaas/loadbalancers", alice, 400, json={"loadbalancer": {
        "vip_subnet_id": sub["id"], "listeners": [{"protocol": "HTTP", "protocol_port": 80,
                                                   "bogus": 1}]}})
    assert (await o.ok("GET", "/v2.0/ports", alice))["ports"] == before
    assert (await o.lb_ok("GET", "/lbaas/loadbalancers", alice))["loadbalancers"] == []
    groups = (await o.ok("GET", "/v2.0/security-groups", alice))["security_groups"]
    assert not [g for g in groups if g["name"].startswith("lb-")]  # the VIP group went too
