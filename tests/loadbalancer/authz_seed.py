"""Load-balancer objects for the authorization matrix (tests/authz): a fresh tree per
write, each step "observed" as the agent would, so no call meets a PENDING LB (409)."""

from __future__ import annotations

from typing import Any

from kumo.model import loadbalancer as lbm

LB = "/load-balancer/v2/lbaas"


async def _octavia(seed: Any, method: str, path: str, body: dict[str, Any]) -> Any:
    r = await seed.cloud.client.request(method, LB + path, json=body,
                                        headers={"X-Auth-Token": seed.owner.token})
    assert r.status_code == 201, r.text
    return r.json()


async def observe(seed: Any, lb_id: str) -> None:
    objects = seed.cloud.objects

    def change(obj: dict[str, Any]) -> None:
        obj["status"] = {"observedGeneration": obj["metadata"]["generation"]}

    await objects.mutate(lbm.LOADBALANCER, seed.owner.project_id, lb_id, change)


async def tree(seed: Any) -> dict[str, str]:
    """An ACTIVE LB (on a fresh subnet) with a listener, a pool, a member and a monitor."""
    sub = seed.lb.get("vip_subnet")
    if sub is None:  # one big subnet for every tree (a network each would meet its quota)
        net = await seed.network()
        body = {"network_id": net, "cidr": "10.200.0.0/16", "ip_version": 4}
        sub = (await seed.neutron("POST", "/v2.0/subnets", seed.owner,
                                  json={"subnet": body}))["subnet"]["id"]
    for who in (seed.owner, seed.who["other_member"]):  # many trees: no limit in the way
        if await seed.cloud.objects.try_get("QuotaSet", who.project_id, lbm.QUOTA_NAME) is None:
            await seed.cloud.objects.create({
                "apiVersion": "kumo.io/v1", "kind": "QuotaSet",
                "metadata": {"name": lbm.QUOTA_NAME, "namespace": who.project_id},
                "spec": {"load_balancer": -1}})
    lb = (await _octavia(seed, "POST", "/loadbalancers", {"loadbalancer": {
        "vip_subnet_id": sub}}))["loadbalancer"]["id"]
    await observe(seed, lb)
    listener = (await _octavia(seed, "POST", "/listeners", {"listener": {
        "loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80}}))["listener"]["id"]
    await observe(seed, lb)
    pool = (await _octavia(seed, "POST", "/pools", {"pool": {
        "listener_id": listener, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}))[
        "pool"]["id"]
    await observe(seed, lb)
    member = (await _octavia(seed, "POST", f"/pools/{pool}/members", {"member": {
        "address": "10.9.9.9", "protocol_port": 80}}))["member"]["id"]
    await observe(seed, lb)
    hm = (await _octavia(seed, "POST", "/healthmonitors", {"healthmonitor": {
        "pool_id": pool, "type": "TCP", "delay": 1, "timeout": 1, "max_retries": 1}}))[
        "healthmonitor"]["id"]
    await observe(seed, lb)
    policy = (await _octavia(seed, "POST", "/l7policies", {"l7policy": {
        "listener_id": listener, "action": "REJECT", "rules": [
            {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/deny"}]}}))["l7policy"]
    await observe(seed, lb)
    return {"lb_id": lb, "listener_id": listener, "pool_id": pool, "member_id": member,
            "hm_id": hm, "vip_subnet": sub, "l7policy_id": policy["id"],
            "l7rule_id": policy["rules"][0]["id"]}


async def body(seed: Any, key: str, tree_ids: dict[str, str], caller_net: Any) -> Any:
    """A valid body for an Octavia write, or None when the route takes none."""
    m, t = key.split(" ", 1)
    t = t.replace("/load-balancer/v2.0", "/load-balancer/v2")
    if m == "POST" and t.endswith("/lbaas/loadbalancers"):
        return {"loadbalancer": {"vip_network_id": await caller_net()}}
    if m == "POST" and t.endswith("/lbaas/listeners"):
        return {"listener": {"loadbalancer_id": tree_ids["lb_id"], "protocol": "TCP",
                             "protocol_port": 81}}
    if m == "POST" and t.endswith("/lbaas/pools"):
        return {"pool": {"loadbalancer_id": tree_ids["lb_id"], "protocol": "TCP",
                         "lb_algorithm": "SOURCE_IP"}}
    if m == "POST" and t.endswith("/members"):
        return {"member": {"address": "10.9.9.10", "protocol_port": 80}}
    if m == "PUT" and t.endswith("/members"):
        return {"members": [{"address": "10.9.9.11", "protocol_port": 80}]}
    if m == "POST" and t.endswith("/lbaas/healthmonitors"):
        return {"healthmonitor": {"pool_id": await _bare_pool(seed, tree_ids), "type": "TCP",
                                  "delay": 1, "timeout": 1, "max_retries": 1}}
    if m == "POST" and t.endswith("/lbaas/l7policies"):
        return {"l7policy": {"listener_id": tree_ids["listener_id"], "action": "REJECT"}}
    if m == "POST" and t.endswith("/rules"):
        return {"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/x"}}
    if m == "PUT" and "/rules/" in t:
        return {"rule": {"value": "/y"}}
    if m == "PUT" and "/quotas/" in t:
        return {"quota": {"load_balancer": -1}}
    if m == "PUT":
        what = t.split("/lbaas/")[1].split("/")[0]
        key_ = {"loadbalancers": "loadbalancer", "listeners": "listener", "pools": "pool",
                "healthmonitors": "healthmonitor", "l7policies": "l7policy"}[what]
        if "/members/" in t:
            key_ = "member"
        return {key_: {"name": "renamed"}}
    return None


async def _bare_pool(seed: Any, tree_ids: dict[str, str]) -> str:
    """A second pool (no monitor yet) on the tree's LB, the LB observed after it."""
    pool = (await _octavia(seed, "POST", "/pools", {"pool": {
        "loadbalancer_id": tree_ids["lb_id"], "protocol": "TCP",
        "lb_algorithm": "ROUND_ROBIN"}}))["pool"]["id"]
    await observe(seed, tree_ids["lb_id"])
    return pool
