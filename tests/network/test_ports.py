"""Ports and IPAM: exact fixed IPs, automatic allocation, MACs, updates, concurrency."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from kumo.model import network as nm

from .conftest import Neutron, Tenant


@pytest.fixture
async def net(neutron: Neutron, alice: Tenant) -> str:
    return (await neutron.network(alice, "n"))["id"]


async def test_port_defaults(neutron: Neutron, alice: Tenant, admin: Tenant, net: str) -> None:
    empty = await neutron.port(alice, net, name="nothing")
    assert empty["fixed_ips"] == [] and empty["status"] == "DOWN"
    assert empty["mac_address"].startswith("fa:16:3e:")
    sub = await neutron.subnet(alice, net, "10.0.0.0/24")
    p = await neutron.port(alice, net, device_id="vm1", device_owner="compute:nova")
    assert p["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.2"}]
    assert p["security_groups"] == [nm.default_security_group_id(alice.project_id)]
    assert p["binding:vnic_type"] == "normal" and "binding:host_id" not in p
    assert p["port_security_enabled"] is True and p["admin_state_up"] is True
    as_admin = (await neutron.ok("GET", f"/v2.0/ports/{p['id']}", admin))["port"]
    assert as_admin["binding:host_id"] == "" and as_admin["binding:vif_type"] == "unbound"
    obj = await neutron.objects.get(nm.PORT, alice.project_id, p["id"])
    assert obj["metadata"]["labels"] == {nm.NETWORK_LABEL: net, nm.DEVICE_LABEL: "vm1",
                                         nm.OWNER_LABEL: "compute.nova"}
    second = await neutron.port(alice, net)
    assert second["fixed_ips"][0]["ip_address"] == "10.0.0.3"


async def test_fixed_ips_exact_or_rejected(neutron: Neutron, alice: Tenant, net: str) -> None:
    sub = await neutron.subnet(alice, net, "10.0.0.0/24",
                               allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"}])
    sid = sub["id"]
    p = await neutron.port(alice, net, fixed_ips=[{"subnet_id": sid, "ip_address": "10.0.0.42"}])
    assert p["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.0.0.42"}]  # outside pool: ok
    by_ip = await neutron.port(alice, net, fixed_ips=[{"ip_address": "10.0.0.43"}])
    assert by_ip["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.0.0.43"}]
    by_subnet = await neutron.port(alice, net, fixed_ips=[{"subnet_id": sid}])
    assert by_subnet["fixed_ips"][0]["ip_address"] == "10.0.0.10"
    msg = await neutron.fail("POST", "/v2.0/ports", alice, 409, "IpAddressAlreadyAllocated",
                             json={"port": {"network_id": net, "fixed_ips": [
                                 {"subnet_id": sid, "ip_address": "10.0.0.42"}]}})
    assert msg == f"IP address 10.0.0.42 already allocated in subnet {sid}"
    await neutron.fail("POST", "/v2.0/ports", alice, 409, "IpAddressAlreadyAllocated",
                       json={"port": {"network_id": net,
                                      "fixed_ips": [{"ip_address": "10.0.0.1"}]}})
    for bad_ip in ("10.0.1.5", "10.0.0.255", "10.0.0.0"):
        await neutron.fail("POST", "/v2.0/ports", alice, 400, "InvalidIpForSubnet",
                           json={"port": {"network_id": net, "fixed_ips": [
                               {"subnet_id": sid, "ip_address": bad_ip}]}})
    msg = await neutron.fail("POST", "/v2.0/ports", alice, 400, "InvalidIpForNetwork",
                             json={"port": {"network_id": net,
                                            "fixed_ips": [{"ip_address": "192.168.0.5"}]}})
    assert "192.168.0.5" in msg
    await neutron.fail("POST", "/v2.0/ports", alice, 400, "InvalidInput",
                       json={"port": {"network_id": net,
                                      "fixed_ips": [{"subnet_id": "nope"}]}})
    await neutron.fail("POST", "/v2.0/ports", alice, 400, "HTTPBadRequest",
                       json={"port": {"name": "no network"}})
    # a failed create leaves nothing claimed behind
    claims = await neutron.objects.list(nm.IP_ALLOCATION, None)
    assert sorted(a["spec"]["ipAddress"] for a in claims.items) == \
        ["10.0.0.10", "10.0.0.42", "10.0.0.43"]
    assert len((await neutron.objects.list(nm.MAC_ALLOCATION, None)).items) == 3


async def test_mac_addresses(neutron: Neutron, alice: Tenant, bob: Tenant, admin: Tenant,
                             net: str) -> None:
    p = await neutron.port(alice, net, mac_address="FA:16:3E:00:00:01")
    assert p["mac_address"] == "fa:16:3e:00:00:01"
    msg = await neutron.fail("POST", "/v2.0/ports", alice, 409, "MacAddressInUse",
                             json={"port": {"network_id": net,
                                            "mac_address": "fa:16:3e:00:00:01"}})
    assert msg == (f"Unable to complete operation for network {net}. The mac address "
                   "fa:16:3e:00:00:01 is in use.")
    await neutron.fail("POST", "/v2.0/ports", alice, 400, "InvalidInput",
                       json={"port": {"network_id": net, "mac_address": "01:00:5e:00:00:01"}})
    other = (await neutron.network(alice, "n2"))["id"]
    await neutron.port(alice, other, mac_address="fa:16:3e:00:00:01")  # per network
    await neutron.ok("DELETE", f"/v2.0/ports/{p['id']}", alice, 204)
    await neutron.port(alice, net, mac_address="fa:16:3e:00:00:01")  # released


async def test_subnet_full(neutron: Neutron, alice: Tenant, net: str) -> None:
    await neutron.subnet(alice, net, "10.0.0.0/29")  # .2-.6: five addresses
    ips = {(await neutron.port(alice, net))["fixed_ips"][0]["ip_address"] for _ in range(5)}
    assert ips == {f"10.0.0.{i}" for i in range(2, 7)}
    msg = await neutron.fail("POST", "/v2.0/ports", alice, 409, "IpAddressGenerationFailure",
                             json={"port": {"network_id": net}})
    assert msg == f"No more IP addresses available on network {net}."


async def test_second_subnet_used_when_first_full(neutron: Neutron, alice: Tenant,
                                                  net: str) -> None:
    await neutron.subnet(alice, net, "10.0.0.0/30")  # one address: .2
    s2 = await neutron.subnet(alice, net, "10.0.1.0/24")
    await neutron.port(alice, net)
    p = await neutron.port(alice, net)
    assert p["fixed_ips"][0]["subnet_id"] == s2["id"]


async def test_update_port(neutron: Neutron, alice: Tenant, admin: Tenant, net: str) -> None:
    sub = await neutron.subnet(alice, net, "10.0.0.0/24")
    sid = sub["id"]
    p = await neutron.port(alice, net, fixed_ips=[{"subnet_id": sid, "ip_address": "10.0.0.5"}])
    pid = p["id"]
    upd = (await neutron.ok("PUT", f"/v2.0/ports/{pid}", alice, json={"port": {
        "name": "x", "device_id": "d", "device_owner": "compute:nova", "admin_state_up": False,
        "fixed_ips": [{"subnet_id": sid, "ip_address": "10.0.0.6"}]}}))["port"]
    assert upd["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.0.0.6"}]
    assert (upd["name"], upd["device_id"], upd["admin_state_up"]) == ("x", "d", False)
    held = {a["spec"]["ipAddress"] for a in (await neutron.objects.list(nm.IP_ALLOCATION,
                                                                          None)).items}
    assert held == {"10.0.0.6"}
    other = await neutron.port(alice, net, fixed_ips=[{"subnet_id": sid,
                                                       "ip_address": "10.0.0.5"}])
    await neutron.fail("PUT", f"/v2.0/ports/{pid}", alice, 409, "IpAddressAlreadyAllocated",
                       json={"port": {"fixed_ips": [{"ip_address": "10.0.0.6"},
                                                    {"ip_address": "10.0.0.5"}]}})
    same = (await neutron.ok("GET", f"/v2.0/ports/{pid}", alice))["port"]
    assert same["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.0.0.6"}]
    added = (await neutron.ok("PUT", f"/v2.0/ports/{pid}", alice, json={"port": {
        "fixed_ips": [{"subnet_id": sid}, {"subnet_id": sid}]}}))["port"]
    ips = [f["ip_address"] for f in added["fixed_ips"]]
    assert ips[0] == "10.0.0.6" and len(set(ips)) == 2
    await neutron.fail("PUT", f"/v2.0/ports/{pid}", alice, 403, "PolicyNotAuthorized",
                       json={"port": {"binding:host_id": "node1"}})
    await neutron.fail("PUT", f"/v2.0/ports/{pid}", alice, 400, "HTTPBadRequest",
                       json={"port": {"network_id": net}})
    bound = (await neutron.ok("PUT", f"/v2.0/ports/{pid}", admin, json={"port": {
        "binding:host_id": "node1"}}))["port"]
    assert bound["binding:host_id"] == "node1" and bound["binding:vif_type"] == "bridge"
    obj = await neutron.objects.get(nm.PORT, alice.project_id, pid)
    assert obj["metadata"]["labels"]["kumo.io/host"] == "node1"
    assert obj["spec"]["bindingHostId"] == "node1"
    await neutron.ok("DELETE", f"/v2.0/ports/{pid}", alice, 204)
    await neutron.ok("DELETE", f"/v2.0/ports/{other['id']}", alice, 204)
    assert (await neutron.objects.list(nm.IP_ALLOCATION, None)).items == []
    assert (await neutron.objects.list(nm.MAC_ALLOCATION, None)).items == []
    msg = await neutron.fail("GET", f"/v2.0/ports/{pid}", alice, 404, "PortNotFound")
    assert msg == f"Port {pid} could not be found."


async def test_security_groups_and_pairs(neutron: Neutron, alice: Tenant, bob: Tenant,
                                         net: str) -> None:
    sg = (await neutron.ok("POST", "/v2.0/security-groups", alice, 201,
                           json={"security_group": {"name": "web"}}))["security_group"]
    p = await neutron.port(alice, net, security_groups=[sg["id"]],
                           allowed_address_pairs=[{"ip_address": "10.0.0.100"}])
    assert p["security_groups"] == [sg["id"]]
    assert p["allowed_address_pairs"] == [{"ip_address": "10.0.0.100",
                                           "mac_address": p["mac_address"]}]
    bob_sg = (await neutron.ok("POST", "/v2.0/security-groups", bob, 201,
                               json={"security_group": {"name": "b"}}))["security_group"]
    await neutron.fail("POST", "/v2.0/ports", alice, 404, "SecurityGroupNotFound",
                       json={"port": {"network_id": net, "security_groups": [bob_sg["id"]]}})
    nosec = await neutron.port(alice, net, port_security_enabled=False)
    assert nosec["security_groups"] == [] and nosec["port_security_enabled"] is False
    await neutron.fail("POST", "/v2.0/ports", alice, 400,
                       "PortSecurityAndIPRequiredForSecurityGroups",
                       json={"port": {"network_id": net, "port_security_enabled": False,
                                      "security_groups": [sg["id"]]}})
    upd = (await neutron.ok("PUT", f"/v2.0/ports/{p['id']}", alice,
                            json={"port": {"security_groups": []}}))["port"]
    assert upd["security_groups"] == []


async def test_public_coroutines(neutron: Neutron, alice: Tenant, net: str) -> None:
    from kumo.api.openstack.network import ports as network_ports

    await neutron.subnet(alice, net, "10.0.0.0/24")
    ctx = await neutron.rt.tokens.validate(alice.token)
    obj = await network_ports.create_port(neutron.rt, ctx, {
        "network_id": net, "device_id": "srv", "device_owner": "compute:nova"})
    assert obj["kind"] == nm.PORT and obj["metadata"]["namespace"] == alice.project_id
    view = network_ports.port_view(obj, ctx)
    assert view["device_id"] == "srv" and view["fixed_ips"]
    pid = obj["metadata"]["name"]
    upd = await network_ports.update_port(neutron.rt, ctx, pid, {"name": "n"})
    assert upd["spec"]["name"] == "n"
    await network_ports.delete_port(neutron.rt, ctx, pid)
    with pytest.raises(Exception) as info:
        await network_ports.delete_port(neutron.rt, ctx, pid)
    assert getattr(info.value, "reason", None) == "PortNotFound"


async def _create_many(neutron: Neutron, who: Tenant, net: str, n: int) -> list:
    async def one() -> tuple[int, dict]:
        r = await neutron.call("POST", "/v2.0/ports", who, json={"port": {"network_id": net}})
        return r.status_code, r.json()

    return await asyncio.gather(*(one() for _ in range(n)))


async def test_concurrent_creates_never_share_an_address(neutron: Neutron, alice: Tenant,
                                                         net: str) -> None:
    sub = await neutron.subnet(alice, net, "10.0.0.0/26")  # pool .2-.62: 61 addresses
    results = await _create_many(neutron, alice, net, 50)
    assert [s for s, _ in results] == [201] * 50
    ips = [b["port"]["fixed_ips"][0]["ip_address"] for _, b in results]
    assert len(set(ips)) == 50
    cidr = ipaddress.ip_network(sub["cidr"])
    assert all(ipaddress.ip_address(ip) in cidr for ip in ips)
    macs = {b["port"]["mac_address"] for _, b in results}
    assert len(macs) == 50


async def test_concurrent_creates_exhaust_exactly(neutron: Neutron, alice: Tenant,
                                                  net: str) -> None:
    await neutron.subnet(alice, net, "10.0.0.0/26")
    results = await _create_many(neutron, alice, net, 70)
    ok = [b for s, b in results if s == 201]
    failed = [b for s, b in results if s != 201]
    assert len(ok) == 61 and len(failed) == 9
    assert {b["NeutronError"]["type"] for b in failed} == {"IpAddressGenerationFailure"}
    ips = [b["port"]["fixed_ips"][0]["ip_address"] for b in ok]
    assert len(set(ips)) == 61
    assert len((await neutron.objects.list(nm.IP_ALLOCATION, None)).items) == 61
    # the failures released their MACs
    assert len((await neutron.objects.list(nm.MAC_ALLOCATION, None)).items) == 61
    assert len((await neutron.objects.list(nm.PORT, None)).items) == 61
