"""Octavia v2 through the real app: the tree, the derived state machine (409 while
PENDING), Octavia's error body, cascade delete, the VIP port, quotas, isolation."""

from __future__ import annotations

from tests.loadbalancer.conftest import Octavia
from tests.network.conftest import Tenant


async def _lb(o: Octavia, who: Tenant, **extra: object) -> dict:
    sub = await o.vip_subnet(who)
    body = await o.lb_ok("POST", "/lbaas/loadbalancers", who, 201, json={
        "loadbalancer": {"name": "web", "vip_subnet_id": sub["id"], **extra}})
    return body["loadbalancer"]


async def test_create_pending_then_active_and_vip_port(octavia: Octavia, alice: Tenant) -> None:
    lb = await _lb(octavia, alice)
    assert lb["provisioning_status"] == "PENDING_CREATE"
    assert lb["operating_status"] == "OFFLINE" and lb["provider"] == "kumo"
    port = (await octavia.ok("GET", f"/v2.0/ports/{lb['vip_port_id']}", alice))["port"]
    assert port["device_owner"] == "Octavia" and port["device_id"] == f"lb-{lb['id']}"
    assert port["fixed_ips"][0]["ip_address"] == lb["vip_address"]
    # immutable while PENDING: Octavia's 409 in Octavia's body
    msg = await octavia.lb_fail("PUT", f"/lbaas/loadbalancers/{lb['id']}", alice, 409,
                                json={"loadbalancer": {"name": "x"}})
    assert "immutable" in msg
    await octavia.observe(lb["id"], {lb["id"]: "ONLINE"})
    got = (await octavia.lb_ok("GET", f"/lbaas/loadbalancers/{lb['id']}", alice))["loadbalancer"]
    assert got["provisioning_status"] == "ACTIVE" and got["operating_status"] == "ONLINE"
    upd = (await octavia.lb_ok("PUT", f"/lbaas/loadbalancers/{lb['id']}", alice, json={
        "loadbalancer": {"name": "renamed"}}))["loadbalancer"]
    assert upd["provisioning_status"] == "PENDING_UPDATE" and upd["name"] == "renamed"


async def test_tree_and_cascade_delete(octavia: Octavia, alice: Tenant) -> None:
    lb = await _lb(octavia, alice)
    lid = lb["id"]
    await octavia.observe(lid)
    listener = (await octavia.lb_ok("POST", "/lbaas/listeners", alice, 201, json={"listener": {
        "loadbalancer_id": lid, "protocol": "HTTP", "protocol_port": 80}}))["listener"]
    assert listener["provisioning_status"] == "PENDING_CREATE"
    # the LB is PENDING_UPDATE now: a second child waits (409)
    await octavia.lb_fail("POST", "/lbaas/pools", alice, 409, json={"pool": {
        "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})
    await octavia.observe(lid)
    pool = (await octavia.lb_ok("POST", "/lbaas/pools", alice, 201, json={"pool": {
        "listener_id": listener["id"], "protocol": "HTTP",
        "lb_algorithm": "LEAST_CONNECTIONS"}}))["pool"]
    await octavia.observe(lid)
    got = (await octavia.lb_ok("GET", f"/lbaas/listeners/{listener['id']}", alice))["listener"]
    assert got["default_pool_id"] == pool["id"] and got["provisioning_status"] == "ACTIVE"
    m = (await octavia.lb_ok("POST", f"/lbaas/pools/{pool['id']}/members", alice, 201, json={
        "member": {"address": "10.0.0.10", "protocol_port": 8080, "weight": 3}}))["member"]
    await octavia.observe(lid)
    await octavia.lb_fail("POST", f"/lbaas/pools/{pool['id']}/members", alice, 409, json={
        "member": {"address": "10.0.0.10", "protocol_port": 8080}})
    hm = (await octavia.lb_ok("POST", "/lbaas/healthmonitors", alice, 201, json={
        "healthmonitor": {"pool_id": pool["id"], "type": "HTTP", "delay": 1, "timeout": 1,
                          "max_retries": 2}}))["healthmonitor"]
    assert hm["url_path"] == "/" and hm["pools"] == [{"id": pool["id"]}]
    await octavia.observe(lid, {m["id"]: "ONLINE", pool["id"]: "ONLINE"})
    status = (await octavia.lb_ok("GET", f"/lbaas/loadbalancers/{lid}/status", alice))
    tree = status["statuses"]["loadbalancer"]
    assert tree["listeners"][0]["pools"][0]["members"][0]["operating_status"] == "ONLINE"
    assert (await octavia.lb_ok("GET", f"/lbaas/loadbalancers/{lid}/stats", alice))["stats"][
        "active_connections"] == 0
    msg = await octavia.lb_fail("DELETE", f"/lbaas/loadbalancers/{lid}", alice, 400)
    assert "children" in msg
    await octavia.lb_ok("DELETE", f"/lbaas/loadbalancers/{lid}?cascade=true", alice, 204)
    await octavia.lb_fail("GET", f"/lbaas/loadbalancers/{lid}", alice, 404)
    await octavia.lb_fail("GET", f"/lbaas/pools/{pool['id']}", alice, 404)
    await octavia.fail("GET", f"/v2.0/ports/{lb['vip_port_id']}", alice, 404, "PortNotFound")


async def test_errors_isolation_and_quota(octavia: Octavia, alice: Tenant, bob: Tenant,
                                          ) -> None:
    lb = await _lb(octavia, alice)
    await octavia.observe(lb["id"])
    await octavia.lb_fail("GET", f"/lbaas/loadbalancers/{lb['id']}", bob, 404)
    assert (await octavia.lb_ok("GET", "/lbaas/loadbalancers", bob))["loadbalancers"] == []
    await octavia.lb_fail("POST", "/lbaas/loadbalancers", alice, 400,
                          json={"loadbalancer": {"name": "no-vip"}})
    await octavia.lb_fail("POST", "/lbaas/listeners", alice, 400, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 70000}})
    await octavia.lb_fail("POST", "/lbaas/pools", alice, 400, json={"pool": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "lb_algorithm": "RANDOM"}})
    providers = (await octavia.lb_ok("GET", "/lbaas/providers", alice))["providers"]
    assert [p["name"] for p in providers] == ["kumo"]
    admin = await octavia.admin()
    await octavia.lb_ok("PUT", f"/lbaas/quotas/{alice.project_id}", admin, json={
        "quota": {"load_balancer": 1}})
    msg = await octavia.lb_fail("POST", "/lbaas/loadbalancers", alice, 403, json={
        "loadbalancer": {"vip_network_id": lb["vip_network_id"]}})
    assert "Quota" in msg


async def test_delete_survives_the_agents_status_writes(octavia: Octavia, alice: Tenant
                                                          ) -> None:
    """The agent writes status every few seconds: a delete read before one must not 409."""
    from kumo.core import loadbalancers as core_lbs
    from kumo.core.actor import Actor
    from kumo.model import loadbalancer as lbm

    lb = await _lb(octavia, alice)
    await octavia.observe(lb["id"])
    stale = await octavia.objects.get(lbm.LOADBALANCER, alice.project_id, lb["id"])
    await octavia.observe(lb["id"], {lb["id"]: "ONLINE"})  # a status write: new rv
    actor = Actor(alice.project_id, alice.user_id, False, True)
    await core_lbs.delete_lb(octavia.objects, actor, stale, cascade=False)
    assert await octavia.objects.try_get(lbm.LOADBALANCER, alice.project_id, lb["id"]) is None
    await octavia.fail("GET", f"/v2.0/ports/{lb['vip_port_id']}", alice, 404, "PortNotFound")
