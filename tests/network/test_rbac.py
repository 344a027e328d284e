"""RBAC policies: a network shared with one project (seen, its subnets seen, ports made),
RbacPolicyInUse while that project's ports use it, unshared on delete, policy rules."""

from __future__ import annotations

from .conftest import Neutron, Tenant

_P = "/v2.0/rbac-policies"


async def _share(neutron: Neutron, who: Tenant, net: str, target: str,
                 status: int = 201) -> dict:
    return (await neutron.ok("POST", _P, who, status, json={"rbac_policy": {
        "object_type": "network", "object_id": net, "action": "access_as_shared",
        "target_tenant": target}}))["rbac_policy"]


async def test_share_with_one_project(neutron: Neutron, alice: Tenant, bob: Tenant,
                                      admin: Tenant) -> None:
    net = (await neutron.network(alice, "shared-one"))["id"]
    sub = await neutron.subnet(alice, net, "10.33.0.0/24")
    await neutron.fail("GET", f"/v2.0/networks/{net}", bob, 404, "NetworkNotFound")
    await neutron.fail("POST", "/v2.0/ports", bob, 404, "NetworkNotFound",
                       json={"port": {"network_id": net}})
    pol = await _share(neutron, alice, net, bob.project_id)
    assert pol["target_tenant"] == bob.project_id and pol["object_id"] == net
    assert (await neutron.ok("GET", f"/v2.0/networks/{net}", bob))["network"]["id"] == net
    subs = await neutron.ok("GET", f"/v2.0/subnets?network_id={net}", bob)
    assert [s["id"] for s in subs["subnets"]] == [sub["id"]]
    seen = await neutron.ok("GET", _P, bob)  # the target sees the policy, cannot change it
    assert [p["id"] for p in seen["rbac_policies"]] == [pol["id"]]
    port = await neutron.port(bob, net)
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    await neutron.fail("DELETE", f"{_P}/{pol['id']}", alice, 409, "RbacPolicyInUse")
    await neutron.ok("DELETE", f"/v2.0/ports/{port['id']}", bob, 204)
    await neutron.ok("DELETE", f"{_P}/{pol['id']}", alice, 204)
    await neutron.fail("GET", f"/v2.0/networks/{net}", bob, 404, "NetworkNotFound")
    await neutron.fail("GET", f"{_P}/{pol['id']}", alice, 404, "RbacPolicyNotFound")


async def test_rules(neutron: Neutron, alice: Tenant, bob: Tenant, admin: Tenant) -> None:
    net = (await neutron.network(alice, "n"))["id"]
    await neutron.fail("POST", _P, alice, 403, "PolicyNotAuthorized", json={"rbac_policy": {
        "object_type": "network", "object_id": net, "action": "access_as_shared",
        "target_tenant": "*"}})
    await neutron.fail("POST", _P, alice, 400, "InvalidInput", json={"rbac_policy": {
        "object_type": "qos_policy", "object_id": net, "action": "access_as_shared",
        "target_tenant": bob.project_id}})
    await neutron.fail("POST", _P, bob, 404, "NetworkNotFound", json={"rbac_policy": {
        "object_type": "network", "object_id": net, "action": "access_as_shared",
        "target_tenant": bob.project_id}})
    pol = await _share(neutron, alice, net, bob.project_id)
    await neutron.fail("POST", _P, alice, 409, "DuplicateRbacPolicy", json={"rbac_policy": {
        "object_type": "network", "object_id": net, "action": "access_as_shared",
        "target_tenant": bob.project_id}})
    await neutron.fail("DELETE", f"{_P}/{pol['id']}", bob, 403, "PolicyNotAuthorized")
    everyone = await _share(neutron, admin, net, "*")
    other = await neutron.tenant("gamma")
    assert (await neutron.ok("GET", f"/v2.0/networks/{net}", other))["network"]["id"] == net
    moved = await neutron.ok("PUT", f"{_P}/{pol['id']}", alice,
                             json={"rbac_policy": {"target_tenant": other.project_id}})
    assert moved["rbac_policy"]["target_tenant"] == other.project_id
    await neutron.ok("DELETE", f"{_P}/{everyone['id']}", admin, 204)
    await neutron.fail("GET", f"/v2.0/networks/{net}", bob, 404, "NetworkNotFound")
    assert (await neutron.ok("GET", f"/v2.0/networks/{net}", other))["network"]["id"] == net


async def test_policies_go_with_the_network(neutron: Neutron, alice: Tenant,
                                            bob: Tenant) -> None:
    net = (await neutron.network(alice, "gone"))["id"]
    pol = await _share(neutron, alice, net, bob.project_id)
    await neutron.ok("DELETE", f"/v2.0/networks/{net}", alice, 204)
    await neutron.fail("GET", f"{_P}/{pol['id']}", alice, 404, "RbacPolicyNotFound")


async def test_update_to_the_same_target_changes_nothing(neutron: Neutron, alice: Tenant,
                                                        bob: Tenant) -> None:
    net = (await neutron.network(alice, "shared-same"))["id"]
    await neutron.subnet(alice, net, "10.34.0.0/24")
    pol = await _share(neutron, alice, net, bob.project_id)
    port = await neutron.port(bob, net)  # bob uses the network
    same = await neutron.ok("PUT", f"{_P}/{pol['id']}", alice, json={
        "rbac_policy": {"target_tenant": bob.project_id}})
    assert same["rbac_policy"]["target_tenant"] == bob.project_id
    await neutron.ok("DELETE", f"/v2.0/ports/{port['id']}", bob, 204)
    await neutron.ok("PUT", f"{_P}/{pol['id']}", alice, json={
        "rbac_policy": {"target_tenant": bob.project_id}})
    # still shared: bob sees the network
    assert (await neutron.ok("GET", f"/v2.0/networks/{net}", bob))["network"]["id"] == net
