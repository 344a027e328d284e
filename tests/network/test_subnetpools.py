"""Subnet pools: CRUD, prefix allocation (prefixlen, cidr inside, default pool), claims
released on delete, SubnetPoolInUse, visibility, tags, concurrency."""

from __future__ import annotations

import asyncio
import ipaddress

from .conftest import Neutron, Tenant


async def _pool(neutron: Neutron, who: Tenant, **extra: object) -> dict:
    body = {"name": "p", "prefixes": ["10.10.0.0/16"], **extra}
    return (await neutron.ok("POST", "/v2.0/subnetpools", who, 201,
                             json={"subnetpool": body}))["subnetpool"]


async def _from(neutron: Neutron, who: Tenant, net: str, **extra: object) -> dict:
    return (await neutron.ok("POST", "/v2.0/subnets", who, 201, json={"subnet": {
        "network_id": net, "ip_version": 4, **extra}}))["subnet"]


async def test_crud_and_views(neutron: Neutron, alice: Tenant, bob: Tenant) -> None:
    pool = await _pool(neutron, alice, prefixes=["10.10.0.0/17", "10.10.128.0/17"],
                       default_prefixlen=24)
    assert pool["prefixes"] == ["10.10.0.0/16"] and pool["ip_version"] == 4
    assert (pool["min_prefixlen"], pool["default_prefixlen"], pool["max_prefixlen"]) == \
        (8, 24, 32)
    pid = pool["id"]
    got = await neutron.ok("GET", f"/v2.0/subnetpools/{pid}", alice)
    assert got["subnetpool"]["name"] == "p"
    listed = await neutron.ok("GET", "/v2.0/subnetpools?name=p", alice)
    assert [p["id"] for p in listed["subnetpools"]] == [pid]
    await neutron.fail("GET", f"/v2.0/subnetpools/{pid}", bob, 404, "SubnetPoolNotFound")
    upd = await neutron.ok("PUT", f"/v2.0/subnetpools/{pid}", alice,
                           json={"subnetpool": {"name": "q", "prefixes": ["10.0.0.0/8"]}})
    assert upd["subnetpool"]["name"] == "q" and upd["subnetpool"]["prefixes"] == ["10.0.0.0/8"]
    await neutron.fail("PUT", f"/v2.0/subnetpools/{pid}", alice, 400,
                       "IllegalSubnetPoolPrefixUpdate",
                       json={"subnetpool": {"prefixes": ["10.0.0.0/16"]}})
    await neutron.fail("PUT", f"/v2.0/subnetpools/{pid}", alice, 400,
                       "IllegalSubnetPoolPrefixBounds",
                       json={"subnetpool": {"min_prefixlen": 28, "max_prefixlen": 24}})
    await neutron.ok("PUT", f"/v2.0/subnetpools/{pid}/tags/blue", alice, 201)
    tagged = await neutron.ok("GET", "/v2.0/subnetpools?tags=blue", alice)
    assert [p["id"] for p in tagged["subnetpools"]] == [pid]
    await neutron.fail("POST", "/v2.0/subnetpools", alice, 403, "PolicyNotAuthorized",
                       json={"subnetpool": {"prefixes": ["10.1.0.0/16"], "shared": True}})
    await neutron.fail("POST", "/v2.0/subnetpools", alice, 400, "InvalidInput",
                       json={"subnetpool": {"prefixes": ["fd00::/48"]}})
    await neutron.ok("DELETE", f"/v2.0/subnetpools/{pid}", alice, 204)
    await neutron.fail("GET", f"/v2.0/subnetpools/{pid}", alice, 404, "SubnetPoolNotFound")


async def test_allocation_and_release(neutron: Neutron, alice: Tenant) -> None:
    pool = await _pool(neutron, alice, prefixes=["10.20.0.0/22"], default_prefixlen=24)
    net = (await neutron.network(alice, "n"))["id"]
    first = await _from(neutron, alice, net, subnetpool_id=pool["id"])
    assert first["cidr"] == "10.20.0.0/24" and first["subnetpool_id"] == pool["id"]
    assert first["gateway_ip"] == "10.20.0.1"
    small = await _from(neutron, alice, net, subnetpool_id=pool["id"], prefixlen=26)
    assert small["cidr"] == "10.20.1.0/26"
    asked = await _from(neutron, alice, net, subnetpool_id=pool["id"], cidr="10.20.3.0/24")
    assert asked["cidr"] == "10.20.3.0/24"
    await neutron.fail("POST", "/v2.0/subnets", alice, 409, "SubnetAllocationError", json={
        "subnet": {"network_id": net, "ip_version": 4, "subnetpool_id": pool["id"],
                   "cidr": "10.20.0.128/25"}})
    await neutron.fail("POST", "/v2.0/subnets", alice, 400, "CidrNotInSubnetPool", json={
        "subnet": {"network_id": net, "ip_version": 4, "subnetpool_id": pool["id"],
                   "cidr": "10.30.0.0/24"}})
    await neutron.fail("DELETE", f"/v2.0/subnetpools/{pool['id']}", alice, 409,
                       "SubnetPoolInUse")
    await neutron.ok("DELETE", f"/v2.0/subnets/{first['id']}", alice, 204)
    again = await _from(neutron, alice, net, subnetpool_id=pool["id"])
    assert again["cidr"] == "10.20.0.0/24"  # the released block is free again
    await neutron.fail("POST", "/v2.0/subnets", alice, 409, "SubnetAllocationError", json={
        "subnet": {"network_id": net, "ip_version": 4, "subnetpool_id": pool["id"],
                   "prefixlen": 23}})
    for sid in (again["id"], small["id"], asked["id"]):
        await neutron.ok("DELETE", f"/v2.0/subnets/{sid}", alice, 204)
    await neutron.ok("DELETE", f"/v2.0/subnetpools/{pool['id']}", alice, 204)


async def test_concurrent_allocations_never_overlap(neutron: Neutron, alice: Tenant) -> None:
    pool = await _pool(neutron, alice, prefixes=["10.40.0.0/20"], default_prefixlen=24)
    nets = [(await neutron.network(alice, f"n{i}"))["id"] for i in range(6)]
    subs = await asyncio.gather(*(_from(neutron, alice, n, subnetpool_id=pool["id"])
                                  for n in nets))
    cidrs = [ipaddress.IPv4Network(s["cidr"]) for s in subs]
    assert len(set(cidrs)) == 6
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1:])


async def test_default_pool_is_admins_and_unique(neutron: Neutron, alice: Tenant,
                                                 admin: Tenant) -> None:
    await neutron.fail("POST", "/v2.0/subnetpools", alice, 403, "PolicyNotAuthorized",
                       json={"subnetpool": {"prefixes": ["10.60.0.0/16"], "is_default": True}})
    pool = await _pool(neutron, admin, prefixes=["10.60.0.0/16"], is_default=True,
                       shared=True, default_prefixlen=26)
    await neutron.fail("POST", "/v2.0/subnetpools", admin, 409, "DefaultSubnetPoolsExist",
                       json={"subnetpool": {"prefixes": ["10.61.0.0/16"], "is_default": True}})
    seen = await neutron.ok("GET", f"/v2.0/subnetpools/{pool['id']}", alice)
    assert seen["subnetpool"]["shared"] is True
    net = (await neutron.network(alice, "n"))["id"]
    sub = await _from(neutron, alice, net, use_default_subnetpool=True)
    assert sub["cidr"] == "10.60.0.0/26" and sub["subnetpool_id"] == pool["id"]
    await neutron.fail("DELETE", f"/v2.0/subnetpools/{pool['id']}", alice, 403,
                       "PolicyNotAuthorized")


async def test_address_scopes(neutron: Neutron, alice: Tenant, bob: Tenant) -> None:
    scope = (await neutron.ok("POST", "/v2.0/address-scopes", alice, 201, json={
        "address_scope": {"name": "s", "ip_version": 4}}))["address_scope"]
    sid = scope["id"]
    assert scope["shared"] is False and scope["ip_version"] == 4
    await neutron.fail("GET", f"/v2.0/address-scopes/{sid}", bob, 404, "AddressScopeNotFound")
    await neutron.fail("POST", "/v2.0/address-scopes", alice, 403, "PolicyNotAuthorized",
                       json={"address_scope": {"ip_version": 4, "shared": True}})
    await neutron.fail("POST", "/v2.0/address-scopes", alice, 400, "InvalidInput",
                       json={"address_scope": {"ip_version": 6}})
    one = await _pool(neutron, alice, prefixes=["10.80.0.0/16"], address_scope_id=sid)
    assert one["address_scope_id"] == sid
    await neutron.fail("POST", "/v2.0/subnetpools", alice, 400,
                       "IllegalSubnetPoolAssociationToAddressScope",
                       json={"subnetpool": {"prefixes": ["10.80.5.0/24"],
                                            "address_scope_id": sid}})
    two = await _pool(neutron, alice, prefixes=["10.80.5.0/24"])  # outside the scope: fine
    await neutron.fail("PUT", f"/v2.0/subnetpools/{two['id']}", alice, 400,
                       "IllegalSubnetPoolAssociationToAddressScope",
                       json={"subnetpool": {"address_scope_id": sid}})
    await neutron.fail("POST", "/v2.0/subnetpools", bob, 404, "AddressScopeNotFound",
                       json={"subnetpool": {"prefixes": ["10.90.0.0/16"],
                                            "address_scope_id": sid}})
    upd = await neutron.ok("PUT", f"/v2.0/address-scopes/{sid}", alice,
                           json={"address_scope": {"name": "t"}})
    assert upd["address_scope"]["name"] == "t"
    await neutron.fail("DELETE", f"/v2.0/address-scopes/{sid}", alice, 409,
                       "AddressScopeInUse")
    await neutron.ok("PUT", f"/v2.0/subnetpools/{one['id']}", alice,
                     json={"subnetpool": {"address_scope_id": None}})
    await neutron.ok("DELETE", f"/v2.0/address-scopes/{sid}", alice, 204)
    listed = await neutron.ok("GET", "/v2.0/address-scopes", alice)
    assert listed["address_scopes"] == []
