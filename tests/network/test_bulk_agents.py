"""Bulk create (all or nothing) and the agents list derived from Hosts."""

from __future__ import annotations

import time

from kumo.model import compute as cm
from kumo.model import network as nm

from .conftest import Neutron, Tenant


async def test_bulk_ports_all_or_nothing(neutron: Neutron, alice: Tenant) -> None:
    net = await neutron.network(alice, "bulk")
    sub = await neutron.subnet(alice, net["id"], "10.7.0.0/24")
    made = await neutron.ok("POST", "/v2.0/ports", alice, 201, json={"ports": [
        {"network_id": net["id"], "name": "a"}, {"network_id": net["id"], "name": "b"}]})
    assert [p["name"] for p in made["ports"]] == ["a", "b"]
    ips = {p["fixed_ips"][0]["ip_address"] for p in made["ports"]}
    assert len(ips) == 2
    taken = made["ports"][0]["fixed_ips"][0]["ip_address"]
    # The second item asks for an address in use: the first item must not remain.
    await neutron.fail("POST", "/v2.0/ports", alice, 409, "IpAddressAlreadyAllocated", json={
        "ports": [{"network_id": net["id"], "name": "c"},
                  {"network_id": net["id"], "name": "d",
                   "fixed_ips": [{"subnet_id": sub["id"], "ip_address": taken}]}]})
    names = {p["name"] for p in (await neutron.ok("GET", "/v2.0/ports", alice))["ports"]}
    assert "c" not in names and "d" not in names
    allocs = await neutron.objects.list(nm.IP_ALLOCATION, None)
    assert len([a for a in allocs.items if a["spec"]["subnetId"] == sub["id"]]) == 2


async def test_bulk_networks(neutron: Neutron, alice: Tenant) -> None:
    made = await neutron.ok("POST", "/v2.0/networks", alice, 201, json={"networks": [
        {"name": "x"}, {"name": "y"}]})
    assert {n["name"] for n in made["networks"]} == {"x", "y"}


async def test_agents_from_hosts(neutron: Neutron, alice: Tenant, admin: Tenant) -> None:
    await neutron.objects.create({"apiVersion": "kumo.io/v1", "kind": cm.HOST,
                                  "metadata": {"name": "hv9"}, "spec": {"enabled": True},
                                  "status": {"vtepIp": "198.18.0.99"}})
    await neutron.objects.create({"apiVersion": "kumo.io/v1", "kind": cm.LEASE,
                                  "metadata": {"name": "hv9"}, "spec": {
                                      "holderIdentity": "hv9/1", "renewTime": time.time(),
                                      "leaseDurationSeconds": 30}})
    agents = (await neutron.ok("GET", "/v2.0/agents", admin))["agents"]
    assert {a["agent_type"] for a in agents if a["host"] == "hv9"} == {
        "Linux bridge agent", "DHCP agent", "Metadata agent"}
    l2 = next(a for a in agents if a["binary"] == "neutron-linuxbridge-agent")
    assert l2["alive"] is True and l2["configurations"]["tunneling_ip"] == "198.18.0.99"
    shown = await neutron.ok("GET", f"/v2.0/agents/{l2['id']}", admin)
    assert shown["agent"]["host"] == "hv9"
    assert (await neutron.ok("GET", "/v2.0/agents", alice))["agents"] == []


async def test_service_providers(neutron: Neutron, alice: Tenant) -> None:
    found = await neutron.ok("GET", "/v2.0/service-providers", alice)
    assert found["service_providers"] == [
        {"service_type": "L3_ROUTER_NAT", "name": "kumo", "default": True}]
    none = await neutron.ok("GET", "/v2.0/service-providers?service_type=VPN", alice)
    assert none["service_providers"] == []
    r = await neutron.call("GET", "/v2.0/service-providers", None)
    assert r.status_code == 401
