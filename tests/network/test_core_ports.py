"""The core port lifecycle as its non-Neutron callers use it: Nova's server ports
(errors in Nova's terms, autoDelete, claims, release), domain error types of IPAM,
Neutron's mapping of them, and the controllers running on their informers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kumo.api.errors import ApiError
from kumo.api.openstack.compute import ports as compute_ports
from kumo.api.openstack.network.errors import from_domain
from kumo.control.dhcp import DhcpScheduler
from kumo.control.ports import PortReleaser
from kumo.core import errors as domain
from kumo.core import ipam
from kumo.core import ports as core_ports
from kumo.model import compute as cm
from kumo.model import network as nm

from .conftest import Neutron, Tenant, until


@pytest.fixture
async def net(neutron: Neutron, alice: Tenant) -> str:
    nid = (await neutron.network(alice, "n"))["id"]
    await neutron.subnet(alice, nid, "10.0.0.0/29")  # .2 - .6
    return nid


async def _ctx(neutron: Neutron, who: Tenant) -> Any:
    return await neutron.rt.tokens.validate(who.token)


async def test_nova_ports_made_and_released(neutron: Neutron, alice: Tenant, net: str) -> None:
    rt, ctx = neutron.rt, await _ctx(neutron, alice)
    req = compute_ports.Requested(network_id=net, fixed_ip="10.0.0.4")
    [pid] = await compute_ports.allocate(rt, ctx, [req], "srv-1", "nova")
    port = await neutron.objects.get(nm.PORT, alice.project_id, pid)
    assert port["spec"]["autoDelete"] is True and port["spec"]["deviceId"] == "srv-1"
    assert port["spec"]["fixedIps"][0]["ipAddress"] == "10.0.0.4"
    assert port["metadata"]["labels"][nm.DEVICE_LABEL] == "srv-1"
    assert port["spec"]["securityGroups"] == [nm.default_security_group_id(alice.project_id)]
    with pytest.raises(ApiError) as info:  # the address is taken: Nova's 400
        await compute_ports.allocate(rt, ctx, [compute_ports.Requested(
            network_id=net, fixed_ip="10.0.0.4")], "srv-2", "nova")
    assert info.value.status == 400
    assert info.value.message.startswith("Fixed IP address is already in use on instance: "
                                         "IP address 10.0.0.4 already allocated")
    await compute_ports.release_port(rt, port)
    assert await neutron.objects.try_get(nm.PORT, alice.project_id, pid) is None
    assert (await neutron.objects.list(nm.IP_ALLOCATION, None)).items == []
    assert (await neutron.objects.list(nm.MAC_ALLOCATION, None)).items == []


async def test_nova_quota_and_all_or_nothing(neutron: Neutron, alice: Tenant, admin: Tenant,
                                             net: str) -> None:
    rt, ctx = neutron.rt, await _ctx(neutron, alice)
    await neutron.ok("PUT", f"/v2.0/quotas/{alice.project_id}", admin,
                     json={"quota": {"port": 1}})
    reqs = [compute_ports.Requested(network_id=net), compute_ports.Requested(network_id=net)]
    with pytest.raises(ApiError) as info:
        await compute_ports.allocate(rt, ctx, reqs, "srv-1", None)
    assert info.value.status == 403
    assert info.value.message == ("Maximum number of ports exceeded: Quota exceeded for "
                                  "resources: ['port'].")
    assert (await neutron.objects.list(nm.PORT, None)).items == []  # the first was undone
    assert (await neutron.objects.list(nm.IP_ALLOCATION, None)).items == []


async def test_nova_claims_a_tenant_port(neutron: Neutron, alice: Tenant, net: str) -> None:
    rt, ctx = neutron.rt, await _ctx(neutron, alice)
    mine = await neutron.port(alice, net, name="mine")
    req = [compute_ports.Requested(port_id=mine["id"])]
    assert await compute_ports.allocate(rt, ctx, req, "srv-1", "nova") == [mine["id"]]
    with pytest.raises(ApiError) as info:  # a second server cannot have it
        await compute_ports.allocate(rt, ctx, req, "srv-2", "nova")
    assert (info.value.status, info.value.message) == (400, f"Port {mine['id']} is still in "
                                                            "use.")
    port = await neutron.objects.get(nm.PORT, alice.project_id, mine["id"])
    assert port["metadata"]["annotations"][core_ports.BOUND_AT]
    await compute_ports.release_port(rt, port)  # brought by the tenant: unbound, kept
    port = await neutron.objects.get(nm.PORT, alice.project_id, mine["id"])
    assert port["spec"]["deviceId"] == "" and port["status"]["status"] == "DOWN"
    assert nm.DEVICE_LABEL not in port["metadata"]["labels"]


async def test_ipam_speaks_domain_errors(neutron: Neutron, alice: Tenant, net: str) -> None:
    objects = neutron.objects
    sub = (await objects.list(nm.SUBNET, None)).items[0]
    await ipam.claim_ip(objects, sub, "10.0.0.2", "p1", alice.project_id)
    with pytest.raises(domain.AlreadyExists) as taken:
        await ipam.claim_ip(objects, sub, "10.0.0.2", "p2", alice.project_id)
    assert taken.value.code == "IpAddressAlreadyAllocated"
    for _ in range(4):
        await ipam.allocate_ip(objects, sub, "p1", alice.project_id)
    with pytest.raises(domain.Exhausted) as full:
        await ipam.allocate_ip(objects, sub, "p1", alice.project_id)
    assert full.value.code == "IpAddressGenerationFailure"
    with pytest.raises(domain.Invalid):
        ipam.normalise_mac("01:00:5e:00:00:01")  # multicast
    await ipam.claim_mac(objects, net, "fa:16:3e:00:00:01", "p1", alice.project_id)
    with pytest.raises(domain.AlreadyExists) as mac:
        await ipam.claim_mac(objects, net, "fa:16:3e:00:00:01", "p2", alice.project_id)
    assert mac.value.code == "MacAddressInUse"
    assert (from_domain(full.value).status, from_domain(full.value).reason) == (
        409, "IpAddressGenerationFailure")
    gen = domain.Exhausted("no mac", code="MacAddressGenerationFailure")
    assert from_domain(gen).status == 503
    bad = from_domain(domain.Invalid("'x' is not a valid MAC address.", code="InvalidInput"))
    assert (bad.status, bad.message) == (400, "Invalid input for operation: 'x' is not a "
                                              "valid MAC address.")


async def test_controllers_follow_their_informers(neutron: Neutron, alice: Tenant) -> None:
    objects = neutron.objects
    await objects.create({"kind": cm.HOST, "metadata": {"name": "hv1"}, "spec": {}})
    await objects.create({"kind": cm.LEASE, "metadata": {"name": "hv1"}, "spec": {
        "holderIdentity": "hv1", "renewTime": time.time() + 3600,
        "leaseDurationSeconds": 3600}})
    dhcp, releaser = DhcpScheduler(neutron.rt), PortReleaser(neutron.rt, grace=0)
    tasks = [asyncio.create_task(dhcp.run()), asyncio.create_task(releaser.run())]
    try:
        net = (await neutron.network(alice, "n"))["id"]
        await neutron.subnet(alice, net, "10.0.0.0/29")  # the subnet's event makes the port

        async def dhcp_port() -> Any:
            found = await objects.list(nm.PORT, alice.project_id, label_selector=(
                f"{nm.DEVICE_LABEL}={nm.dhcp_device_id(net)}"))
            return [p for p in found.items if p["spec"].get("bindingHostId") == "hv1"]

        await until("a bound DHCP port", dhcp_port)
        ctx = await _ctx(neutron, alice)
        [pid] = await compute_ports.allocate(neutron.rt, ctx, [
            compute_ports.Requested(network_id=net)], "gone-server", "nova")

        async def released() -> bool:  # gone, and the releaser has finished its release
            return releaser.released >= 1 and \
                await objects.try_get(nm.PORT, alice.project_id, pid) is None

        await until("the port of a server that never came to be released", released)
        assert releaser.released >= 1 and dhcp.bindings == 1
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_ports_of_a_deleted_server_need_no_grace(neutron: Neutron, alice: Tenant) -> None:
    """The grace covers a server not written yet; a deleted server's ports go at once (a
    playbook deleting a server and then its security group must not meet 'in use')."""
    objects = neutron.objects
    releaser = PortReleaser(neutron.rt)  # the real 30 s grace
    task = asyncio.create_task(releaser.run())
    try:
        net = (await neutron.network(alice, "n"))["id"]
        await neutron.subnet(alice, net, "10.0.1.0/29")
        ctx = await _ctx(neutron, alice)
        [kept] = await compute_ports.allocate(neutron.rt, ctx, [
            compute_ports.Requested(network_id=net)], "not-written-yet", "nova")
        [pid] = await compute_ports.allocate(neutron.rt, ctx, [
            compute_ports.Requested(network_id=net)], "vm1", "nova")
        await objects.create({"kind": cm.SERVER, "metadata": {
            "name": "vm1", "namespace": alice.project_id}, "spec": {"ports": [pid]}})
        await objects.delete(cm.SERVER, alice.project_id, "vm1")
        t0 = time.monotonic()

        async def released() -> bool:
            return await objects.try_get(nm.PORT, alice.project_id, pid) is None

        await until("the deleted server's port released", released)
        assert time.monotonic() - t0 < 10
        assert await objects.try_get(nm.PORT, alice.project_id, kept) is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
