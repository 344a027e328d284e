"""Network IP availability: pool sizes and held addresses per subnet and network, admins
only, filters."""

from __future__ import annotations

from .conftest import Neutron, Tenant

_PATH = "/v2.0/network-ip-availabilities"


async def test_counts_follow_ports(neutron: Neutron, alice: Tenant, admin: Tenant) -> None:
    net = (await neutron.network(alice, "avail"))["id"]
    a = await neutron.subnet(alice, net, "10.70.0.0/28", name="a")  # .2-.14: 13
    await neutron.subnet(alice, net, "10.71.0.0/24", name="b",
                         allocation_pools=[{"start": "10.71.0.10", "end": "10.71.0.19"}])
    before = (await neutron.ok("GET", f"{_PATH}/{net}", admin))["network_ip_availability"]
    assert before["total_ips"] == 23 and before["network_name"] == "avail"
    used0 = before["used_ips"]
    port = await neutron.port(alice, net, fixed_ips=[{"subnet_id": a["id"]}])
    after = (await neutron.ok("GET", f"{_PATH}/{net}", admin))["network_ip_availability"]
    assert after["used_ips"] == used0 + 1
    subs = {s["subnet_name"]: s for s in after["subnet_ip_availability"]}
    assert subs["a"]["total_ips"] == 13 and subs["b"]["total_ips"] == 10
    assert subs["a"]["cidr"] == "10.70.0.0/28" and subs["a"]["ip_version"] == 4
    listed = await neutron.ok("GET", f"{_PATH}?network_name=avail&ip_version=4", admin)
    assert [n["network_id"] for n in listed["network_ip_availabilities"]] == [net]
    none = await neutron.ok("GET", f"{_PATH}?network_name=avail&ip_version=6", admin)
    assert none["network_ip_availabilities"] == []
    await neutron.ok("DELETE", f"/v2.0/ports/{port['id']}", alice, 204)
    back = (await neutron.ok("GET", f"{_PATH}/{net}", admin))["network_ip_availability"]
    assert back["used_ips"] == used0
    await neutron.fail("GET", f"{_PATH}/{net}", alice, 403, "PolicyNotAuthorized")
    await neutron.fail("GET", _PATH, alice, 403, "PolicyNotAuthorized")
    await neutron.fail("GET", f"{_PATH}/nope", admin, 404, "NetworkNotFound")
