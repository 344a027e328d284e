"""The DHCP scheduler's use of the core port lifecycle (create/update/delete system ports)."""

from __future__ import annotations

import asyncio

from kumo.control.dhcp import DhcpScheduler
from kumo.core import ports as core_ports
from kumo.core.actor import Actor
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


async def test_reconcile_reads_no_port_list(neutron: Neutron, alice: Tenant) -> None:
    """A reconcile reads the DHCP port by key (its id derives from the network) and counts
    host load from the informer's index: no list of the project's ports, whose cost grew
    with the cloud (every port decoded, every 5 s while no host was live)."""
    net = (await neutron.network(alice, "n"))["id"]
    await neutron.subnet(alice, net, "10.0.0.0/24")
    sched = DhcpScheduler(neutron.rt)
    listed: list[str] = []
    real_list = neutron.objects.list

    async def spy(kind: str, *args: object, **kw: object) -> object:
        listed.append(kind)
        return await real_list(kind, *args, **kw)  # type: ignore[arg-type]

    neutron.objects.list = spy  # type: ignore[method-assign]
    try:
        racing = await asyncio.gather(*(sched.reconcile((alice.project_id, net))
                                        for _ in range(3)))
        await sched.reconcile((alice.project_id, net))
    finally:
        neutron.objects.list = real_list  # type: ignore[method-assign]
    assert nm.PORT not in listed, listed
    ports = (await neutron.objects.list(nm.PORT, None)).items
    assert [p["metadata"]["name"] for p in ports] == [
        core_ports.system_port_id(net, nm.dhcp_device_id(net))], racing  # one, never twins


async def test_a_dhcp_port_with_a_random_id_is_kept(neutron: Neutron, alice: Tenant) -> None:
    """A DHCP port made before ids were derived (random id) is found through the Port
    informer's index and kept: no second DHCP port for the network."""
    net = (await neutron.network(alice, "n"))["id"]
    sub = await neutron.subnet(alice, net, "10.0.0.0/24")
    old = await core_ports.create_port(neutron.objects, Actor.kumo(alice.project_id),
                                       core_ports.PortRequest(
                                           network_id=net, project=alice.project_id,
                                           device_owner=nm.DHCP_OWNER,
                                           device_id=nm.dhcp_device_id(net),
                                           fixed_ips=[core_ports.FixedIp(sub["id"])]))
    sched = DhcpScheduler(neutron.rt)
    task = asyncio.create_task(sched.informers[2].run())
    try:
        await asyncio.wait_for(sched.informers[2].synced.wait(), 10)
        await sched.reconcile((alice.project_id, net))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    ports = (await neutron.objects.list(nm.PORT, None)).items
    assert [p["metadata"]["name"] for p in ports] == [old["metadata"]["name"]]
