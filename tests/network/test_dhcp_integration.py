"""The DHCP scheduler's use of the core port lifecycle (create/update/delete system ports)."""

from __future__ import annotations

from kumo.control.dhcp import DhcpScheduler
from kumo.model import network as nm

from .conftest import Neutron, Tenant


async def test_dhcp_port_follows_subnets(neutron: Neutron, alice: Tenant) -> None:
    net = (await neutron.network(alice, "n"))["id"]
    s1 = await neutron.subnet(alice, net, "10.0.0.0/24")
    sched = DhcpScheduler(neutron.rt)
    key = (alice.project_id, net)
    await sched.reconcile(key)
    ports = (await neutron.ok("GET", f"/v2.0/ports?device_owner={nm.DHCP_OWNER}",
                              alice))["ports"]
    assert len(ports) == 1 and ports[0]["fixed_ips"][0]["subnet_id"] == s1["id"]
    assert ports[0]["security_groups"] == []
    s2 = await neutron.subnet(alice, net, "10.0.1.0/24")
    await sched.reconcile(key)
    port = (await neutron.ok("GET", f"/v2.0/ports/{ports[0]['id']}", alice))["port"]
    assert {f["subnet_id"] for f in port["fixed_ips"]} == {s1["id"], s2["id"]}
    await neutron.ok("DELETE", f"/v2.0/subnets/{s1['id']}", alice, 204)  # DHCP lets go
    await sched.reconcile(key)
    port = (await neutron.ok("GET", f"/v2.0/ports/{ports[0]['id']}", alice))["port"]
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [s2["id"]]
    await neutron.ok("DELETE", f"/v2.0/networks/{net}", alice, 204)  # DHCP port goes along
    await sched.reconcile(key)
    assert (await neutron.objects.list(nm.PORT, None)).items == []
    assert (await neutron.objects.list(nm.IP_ALLOCATION, None)).items == []
