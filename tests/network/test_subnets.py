"""Subnets: CIDR, gateway, pools, DNS, routes, overlap, updates, SubnetInUse."""

from __future__ import annotations

import pytest

from .conftest import Neutron, Tenant


@pytest.fixture
async def net(neutron: Neutron, alice: Tenant) -> str:
    return (await neutron.network(alice, "n"))["id"]


async def test_defaults_and_normalised_cidr(neutron: Neutron, alice: Tenant, net: str) -> None:
    sub = await neutron.subnet(alice, net, "10.1.2.3/24", name="s")
    assert sub["cidr"] == "10.1.2.0/24" and sub["gateway_ip"] == "10.1.2.1"
    assert sub["allocation_pools"] == [{"start": "10.1.2.2", "end": "10.1.2.254"}]
    assert sub["enable_dhcp"] is True and sub["ip_version"] == 4
    assert sub["dns_nameservers"] == [] and sub["host_routes"] == []
    shown = (await neutron.ok("GET", f"/v2.0/networks/{net}", alice))["network"]
    assert shown["subnets"] == [sub["id"]]
    mid = await neutron.subnet(alice, net, "10.9.0.0/24", gateway_ip="10.9.0.100")
    assert mid["allocation_pools"] == [{"start": "10.9.0.1", "end": "10.9.0.99"},
                                       {"start": "10.9.0.101", "end": "10.9.0.254"}]
    none = await neutron.subnet(alice, net, "10.8.0.0/30", gateway_ip=None)
    assert none["gateway_ip"] is None
    assert none["allocation_pools"] == [{"start": "10.8.0.1", "end": "10.8.0.2"}]


@pytest.mark.parametrize(("extra", "status", "typ"), [
    ({"cidr": "10.0.0.0/33"}, 400, "InvalidInput"),
    ({"cidr": "banana"}, 400, "InvalidInput"),
    ({"cidr": "10.0.0.0/31"}, 400, "InvalidInput"),
    ({"cidr": "fd00::/64", "ip_version": 6}, 400, "InvalidInput"),
    ({"cidr": "10.0.0.0/24", "ip_version": 6}, 400, "InvalidInput"),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.1.1"}, 400, "InvalidInput"),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.255"}, 400, "InvalidInput"),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.1.5"}]},
     400, "OutOfBoundsAllocationPool"),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.0", "end": "10.0.0.5"}]},
     400, "OutOfBoundsAllocationPool"),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.20", "end": "10.0.0.5"}]},
     400, "InvalidAllocationPool"),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.5"}]},
     400, "GatewayConflictWithAllocationPools"),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9"},
                                                  {"start": "10.0.0.9", "end": "10.0.0.20"}]},
     400, "OverlappingAllocationPools"),
    ({"cidr": "10.0.0.0/24", "dns_nameservers": ["8.8.8.8", "8.8.8.8"]}, 400, "InvalidInput"),
    ({"cidr": "10.0.0.0/24", "dns_nameservers": [f"10.0.0.{i}" for i in range(2, 8)]},
     400, "DNSNameServersExhausted"),
    ({"cidr": "10.0.0.0/24", "host_routes": [{"destination": "x", "nexthop": "10.0.0.1"}]},
     400, "InvalidInput"),
    ({"cidr": "10.0.0.0/24", "color": "red"}, 400, "HTTPBadRequest"),
    ({}, 400, "HTTPBadRequest"),
])
async def test_invalid_subnets(neutron: Neutron, alice: Tenant, net: str, extra: dict,
                               status: int, typ: str) -> None:
    body = {"network_id": net, "ip_version": 4, **extra}
    await neutron.fail("POST", "/v2.0/subnets", alice, status, typ, json={"subnet": body})


async def test_overlap_within_one_network_only(neutron: Neutron, alice: Tenant,
                                               net: str) -> None:
    await neutron.subnet(alice, net, "10.0.0.0/24")
    msg = await neutron.fail("POST", "/v2.0/subnets", alice, 400, "InvalidInput", json={
        "subnet": {"network_id": net, "ip_version": 4, "cidr": "10.0.0.128/25"}})
    assert "overlaps with another subnet" in msg
    other = (await neutron.network(alice, "other"))["id"]
    await neutron.subnet(alice, other, "10.0.0.0/24")  # another segment: fine


async def test_update_subnet(neutron: Neutron, alice: Tenant, net: str) -> None:
    sub = await neutron.subnet(alice, net, "10.0.0.0/24")
    sid = sub["id"]
    upd = (await neutron.ok("PUT", f"/v2.0/subnets/{sid}", alice, json={"subnet": {
        "name": "s2", "dns_nameservers": ["1.1.1.1"], "enable_dhcp": False,
        "host_routes": [{"destination": "10.7.0.0/16", "nexthop": "10.0.0.9"}],
        "allocation_pools": [{"start": "10.0.0.50", "end": "10.0.0.60"}],
        "gateway_ip": "10.0.0.254"}}))["subnet"]
    assert upd["name"] == "s2" and upd["dns_nameservers"] == ["1.1.1.1"]
    assert upd["enable_dhcp"] is False and upd["gateway_ip"] == "10.0.0.254"
    assert upd["allocation_pools"] == [{"start": "10.0.0.50", "end": "10.0.0.60"}]
    assert upd["host_routes"] == [{"destination": "10.7.0.0/16", "nexthop": "10.0.0.9"}]
    await neutron.fail("PUT", f"/v2.0/subnets/{sid}", alice, 400, "HTTPBadRequest",
                       json={"subnet": {"cidr": "10.1.0.0/24"}})
    await neutron.fail("PUT", f"/v2.0/subnets/{sid}", alice, 400,
                       "GatewayConflictWithAllocationPools",
                       json={"subnet": {"gateway_ip": "10.0.0.55"}})
    gw_none = (await neutron.ok("PUT", f"/v2.0/subnets/{sid}", alice,
                                json={"subnet": {"gateway_ip": None}}))["subnet"]
    assert gw_none["gateway_ip"] is None


async def test_subnet_in_use(neutron: Neutron, alice: Tenant, bob: Tenant, net: str) -> None:
    from kumo.core import ports as core_ports
    from kumo.model import network as nm

    sub = await neutron.subnet(alice, net, "10.0.0.0/24")
    other = await neutron.subnet(alice, net, "10.0.1.0/24")
    sid = sub["id"]
    port = await neutron.port(alice, net, fixed_ips=[{"subnet_id": sid}])
    msg = await neutron.fail("DELETE", f"/v2.0/subnets/{sid}", alice, 409, "SubnetInUse")
    assert msg == (f"Unable to complete operation on subnet {sid}: One or more ports have an "
                   "IP allocation from this subnet.")
    await neutron.fail("DELETE", f"/v2.0/subnets/{sid}", bob, 404, "SubnetNotFound")
    await neutron.ok("DELETE", f"/v2.0/ports/{port['id']}", alice, 204)
    dhcp = await core_ports.create_system_port(
        neutron.objects, alice.project_id, net, device_owner=nm.DHCP_OWNER,
        device_id=nm.dhcp_device_id(net), subnet_ids=[sid, other["id"]])
    await neutron.ok("DELETE", f"/v2.0/subnets/{sid}", alice, 204)
    left = await neutron.objects.get(nm.PORT, alice.project_id, dhcp["metadata"]["name"])
    assert [f["subnetId"] for f in left["spec"]["fixedIps"]] == [other["id"]]
    allocs = await neutron.objects.list(nm.IP_ALLOCATION, None,
                                        label_selector=f"{nm.SUBNET_LABEL}={sid}")
    assert allocs.items == []
    await neutron.fail("GET", f"/v2.0/subnets/{sid}", alice, 404, "SubnetNotFound")
