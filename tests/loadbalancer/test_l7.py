"""L7 policies and rules: Octavia's API (positions, validation, nested rules, 404/400/409)
and their HAProxy rendering (ACLs from rule ids, values checked before a file is written)."""

from __future__ import annotations

import pytest

from kumo.agent.loadbalancer_plan import plan
from kumo.drivers.haproxy_config import render
from kumo.drivers.haproxy_l7 import L7Error, PolicyPlan, RulePlan, acl, action
from tests.loadbalancer.conftest import Octavia
from tests.network.conftest import Tenant

RID = "11111111-2222-3333-4444-555555555555"


async def _http_tree(o: Octavia, who: Tenant) -> tuple[str, str, str, str]:
    sub = await o.vip_subnet(who)
    lb = (await o.lb_ok("POST", "/lbaas/loadbalancers", who, 201, json={
        "loadbalancer": {"vip_subnet_id": sub["id"]}}))["loadbalancer"]["id"]
    await o.observe(lb)
    listener = (await o.lb_ok("POST", "/lbaas/listeners", who, 201, json={"listener": {
        "loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80}}))["listener"]["id"]
    await o.observe(lb)
    pools = []
    for _ in range(2):
        pools.append((await o.lb_ok("POST", "/lbaas/pools", who, 201, json={"pool": {
            "loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}))[
            "pool"]["id"])
        await o.observe(lb)
    return lb, listener, pools[0], pools[1]


async def test_policies_rules_positions_and_errors(octavia: Octavia, alice: Tenant,
                                                   bob: Tenant) -> None:
    o = octavia
    lb, listener, _, static = await _http_tree(o, alice)
    await o.lb_fail("POST", "/lbaas/l7policies", alice, 400, json={"l7policy": {
        "listener_id": listener, "action": "REDIRECT_TO_POOL"}})  # no pool named
    await o.lb_fail("POST", "/lbaas/l7policies", alice, 400, json={"l7policy": {
        "listener_id": listener, "action": "REDIRECT_TO_URL", "redirect_url": "not a url"}})
    p1 = (await o.lb_ok("POST", "/lbaas/l7policies", alice, 201, json={"l7policy": {
        "listener_id": listener, "action": "REDIRECT_TO_POOL", "redirect_pool_id": static,
        "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/static"}]}}))[
        "l7policy"]
    assert p1["position"] == 1 and len(p1["rules"]) == 1
    assert p1["provisioning_status"] == "PENDING_CREATE"
    await o.observe(lb)
    p2 = (await o.lb_ok("POST", "/lbaas/l7policies", alice, 201, json={"l7policy": {
        "listener_id": listener, "action": "REJECT", "position": 1}}))["l7policy"]
    await o.observe(lb)
    got = (await o.lb_ok("GET", f"/lbaas/l7policies/{p1['id']}", alice))["l7policy"]
    assert got["position"] == 2 and got["provisioning_status"] == "ACTIVE"
    assert got["redirect_pool_id"] == static and got["redirect_http_code"] is None
    # rules: a HEADER rule needs a key; a value with a space is refused
    base = f"/lbaas/l7policies/{p2['id']}/rules"
    await o.lb_fail("POST", base, alice, 400, json={"rule": {
        "type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}})
    await o.lb_fail("POST", base, alice, 400, json={"rule": {
        "type": "PATH", "compare_type": "EQUAL_TO", "value": "/a b"}})
    await o.lb_fail("POST", base, alice, 400, json={"rule": {
        "type": "PATH", "compare_type": "REGEX", "value": "(["}})
    r = (await o.lb_ok("POST", base, alice, 201, json={"rule": {
        "type": "HEADER", "compare_type": "CONTAINS", "key": "X-Bad", "value": "yes",
        "invert": True}}))["rule"]
    assert r["invert"] is True and r["key"] == "X-Bad"
    await o.observe(lb)
    upd = (await o.lb_ok("PUT", f"{base}/{r['id']}", alice, json={"rule": {
        "value": "no"}}))["rule"]
    assert upd["value"] == "no" and upd["type"] == "HEADER"
    await o.observe(lb)
    show = (await o.lb_ok("GET", f"/lbaas/listeners/{listener}", alice))["listener"]
    assert [p["id"] for p in show["l7policies"]] == [p2["id"], p1["id"]]
    # another project sees nothing; a pool in use by a policy cannot go
    await o.lb_fail("GET", f"/lbaas/l7policies/{p1['id']}", bob, 404)
    await o.lb_fail("GET", f"{base}/{r['id']}", bob, 404)
    await o.lb_fail("DELETE", f"/lbaas/pools/{static}", alice, 409)
    await o.lb_call("DELETE", f"/lbaas/l7policies/{p1['id']}", alice)
    await o.observe(lb)
    lbobj = await o.objects.get("LoadBalancer", alice.project_id, lb)
    text = render(plan(lbobj), "/run")
    assert "http-request deny deny_status 403 if !r" in text and "use_backend" not in text
    await o.lb_fail("GET", f"/lbaas/l7policies/{p1['id']}", alice, 404)


def test_render_acl_grammar() -> None:
    path = RulePlan(RID, "PATH", "STARTS_WITH", "/static")
    assert acl(path) == f'    acl r{RID} path -m beg "/static"'
    ft = RulePlan(RID, "FILE_TYPE", "EQUAL_TO", "jpg")
    assert acl(ft).endswith('path -m end ".jpg"')
    cookie = RulePlan(RID, "COOKIE", "REGEX", "^a.*", key="sid")
    assert "req.cook(sid) -m reg" in acl(cookie)
    host = RulePlan(RID, "HOST_NAME", "ENDS_WITH", "example.org")
    assert "req.hdr(host),field(1,:) -i -m end" in acl(host)
    for bad in ('/"x', "/a b", "/a\\b"):
        with pytest.raises(L7Error):
            acl(RulePlan(RID, "PATH", "EQUAL_TO", bad))
    with pytest.raises(L7Error):
        acl(RulePlan(RID, "HEADER", "EQUAL_TO", "v", key="bad key"))
    redirect = PolicyPlan(RID, "REDIRECT_PREFIX", (path,), url="https://example.org", code=301)
    assert action(redirect) == f'    redirect prefix "https://example.org" code 301 if r{RID}'
    assert action(PolicyPlan(RID, "REJECT")) is None  # no rules: never matches
