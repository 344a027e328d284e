"""The VIP's security group (Octavia's ``lb-<id>``): made with the LB, the VIP port
guarded by it, its rules following the listeners (ports, allowed_cidrs), gone with the
LB."""

from __future__ import annotations

from kumo.core import loadbalancer_vip_sg as vip_sg
from tests.loadbalancer.conftest import Octavia
from tests.network.conftest import Tenant


async def _rules(o: Octavia, who: Tenant, gid: str) -> set[tuple]:
    got = (await o.ok("GET", f"/v2.0/security-group-rules?security_group_id={gid}", who))
    return {(r["direction"], r["protocol"], r["port_range_min"], r["remote_ip_prefix"])
            for r in got["security_group_rules"]}


async def test_vip_group_follows_listeners(octavia: Octavia, alice: Tenant) -> None:
    o = octavia
    sub = await o.vip_subnet(alice)
    lb = (await o.lb_ok("POST", "/lbaas/loadbalancers", alice, 201, json={
        "loadbalancer": {"vip_subnet_id": sub["id"]}}))["loadbalancer"]
    gid = vip_sg.group_id(lb["id"])
    port = (await o.ok("GET", f"/v2.0/ports/{lb['vip_port_id']}", alice))["port"]
    assert port["port_security_enabled"] is True and port["security_groups"] == [gid]
    group = (await o.ok("GET", f"/v2.0/security-groups/{gid}", alice))["security_group"]
    assert group["name"] == f"lb-{lb['id']}"
    await o.observe(lb["id"])
    listener = (await o.lb_ok("POST", "/lbaas/listeners", alice, 201, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80,
        "allowed_cidrs": ["10.1.0.0/16", "10.2.0.0/16"]}}))["listener"]
    await o.observe(lb["id"])
    await o.lb_ok("POST", "/lbaas/listeners", alice, 201, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 443}})
    obj = await o.objects.get("LoadBalancer", alice.project_id, lb["id"])
    assert await vip_sg.sync(o.objects, obj) == (4, 0)
    assert await _rules(o, alice, gid) == {
        ("egress", None, None, None), ("ingress", "tcp", 80, "10.1.0.0/16"),
        ("ingress", "tcp", 80, "10.2.0.0/16"), ("ingress", "tcp", 443, "0.0.0.0/0")}
    assert await vip_sg.sync(o.objects, obj) == (0, 0)  # level-based: nothing to do
    await o.observe(lb["id"])
    await o.lb_call("DELETE", f"/lbaas/listeners/{listener['id']}", alice)
    obj = await o.objects.get("LoadBalancer", alice.project_id, lb["id"])
    assert await vip_sg.sync(o.objects, obj) == (0, 2)
    assert ("ingress", "tcp", 80, "10.1.0.0/16") not in await _rules(o, alice, gid)
    await o.observe(lb["id"])
    r = await o.lb_call("DELETE", f"/lbaas/loadbalancers/{lb['id']}?cascade=true", alice)
    assert r.status_code == 204, r.text
    await o.fail("GET", f"/v2.0/security-groups/{gid}", alice, 404, "SecurityGroupNotFound")
