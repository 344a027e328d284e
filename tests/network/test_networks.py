"""Networks, version discovery, extensions, errors, tenant isolation, sharing."""

from __future__ import annotations

from .conftest import Neutron, Tenant


async def test_version_documents(neutron: Neutron) -> None:
    r = await neutron.call("GET", "/", None)
    v = r.json()["versions"][0]
    assert v["id"] == "v2.0" and v["status"] == "CURRENT"
    assert v["links"][0]["href"].endswith("/network/v2.0/")
    r = await neutron.call("GET", "/v2.0/", None)
    assert "networks" in {res["collection"] for res in r.json()["resources"]}


async def test_extensions(neutron: Neutron, alice: Tenant) -> None:
    exts = (await neutron.ok("GET", "/v2.0/extensions", alice))["extensions"]
    aliases = {e["alias"] for e in exts}
    assert {"security-group", "quotas", "port-security", "binding", "provider",
            "standard-attr-tag", "net-mtu", "pagination", "sorting"} <= aliases
    assert "router" in aliases and "dhcp_agent_scheduler" not in aliases
    one = await neutron.ok("GET", "/v2.0/extensions/quotas", alice)
    assert one["extension"]["alias"] == "quotas"
    await neutron.fail("GET", "/v2.0/extensions/l3-ha", alice, 404, "HTTPNotFound")
    r = await neutron.call("GET", "/v2.0/extensions", None)
    assert r.status_code == 401 and "NeutronError" in r.json()


async def test_network_crud(neutron: Neutron, alice: Tenant) -> None:
    net = await neutron.network(alice, "n1", description="d", tags=["a"])
    assert net["status"] == "ACTIVE" and net["mtu"] == 1450 and net["shared"] is False
    assert net["admin_state_up"] is True and net["port_security_enabled"] is True
    assert net["router:external"] is False and net["availability_zones"] == []
    assert net["tags"] == ["a"] and net["description"] == "d"
    assert net["project_id"] == net["tenant_id"] == alice.project_id
    assert net["created_at"].endswith("Z") and net["revision_number"] == 0
    assert "provider:segmentation_id" not in net  # admin-only attributes
    nid = net["id"]
    upd = await neutron.ok("PUT", f"/v2.0/networks/{nid}", alice, json={"network": {
        "name": "n2", "admin_state_up": False, "mtu": 1400, "port_security_enabled": False}})
    n = upd["network"]
    assert (n["name"], n["admin_state_up"], n["mtu"], n["port_security_enabled"]) == \
        ("n2", False, 1400, False)
    assert n["revision_number"] == 1
    shown = await neutron.ok("GET", f"/v2.0/networks/{nid}", alice)
    assert shown["network"]["name"] == "n2"
    await neutron.fail("PUT", f"/v2.0/networks/{nid}", alice, 400, "InvalidInput",
                       json={"network": {"mtu": 9000}})
    await neutron.ok("DELETE", f"/v2.0/networks/{nid}", alice, 204)
    msg = await neutron.fail("GET", f"/v2.0/networks/{nid}", alice, 404, "NetworkNotFound")
    assert msg == f"Network {nid} could not be found."


async def test_request_errors(neutron: Neutron, alice: Tenant) -> None:
    msg = await neutron.fail("POST", "/v2.0/networks", alice, 400, "HTTPBadRequest",
                             json={"network": {"name": "x", "bogus": 1}})
    assert msg == "Unrecognized attribute(s) 'bogus'"
    await neutron.fail("POST", "/v2.0/networks", alice, 400, "HTTPBadRequest",
                       content=b"{not json", headers={"Content-Type": "application/json"})
    await neutron.fail("POST", "/v2.0/networks", alice, 400, "HTTPBadRequest",
                       json={"net": {}})
    await neutron.fail("POST", "/v2.0/networks", alice, 400, "InvalidInput",
                       json={"network": {"admin_state_up": "maybe"}})
    big = b'{"network": {"name": "' + b"x" * (2 << 20) + b'"}}'
    r = await neutron.call("POST", "/v2.0/networks", alice, content=big)
    assert r.status_code == 413 and "NeutronError" in r.json()


async def test_provider_attributes_admin_only(neutron: Neutron, alice: Tenant,
                                              admin: Tenant) -> None:
    await neutron.fail("POST", "/v2.0/networks", alice, 403, "PolicyNotAuthorized",
                       json={"network": {"provider:segmentation_id": 77}})
    net = await neutron.network(admin, "p", **{"provider:network_type": "vxlan",
                                               "provider:segmentation_id": 4242})
    assert net["provider:segmentation_id"] == 4242
    msg = await neutron.fail("POST", "/v2.0/networks", admin, 409, "TunnelIdInUse",
                             json={"network": {"provider:segmentation_id": 4242}})
    assert "4242" in msg
    await neutron.fail("POST", "/v2.0/networks", admin, 400, "InvalidInput",
                       json={"network": {"provider:network_type": "vlan"}})
    # automatic VNIs are distinct, and a deleted network's VNI is free again
    a = await neutron.network(admin, "a")
    b = await neutron.network(admin, "b")
    assert len({a["provider:segmentation_id"], b["provider:segmentation_id"], 4242}) == 3
    await neutron.ok("DELETE", f"/v2.0/networks/{net['id']}", admin, 204)
    again = await neutron.network(admin, "p2", **{"provider:segmentation_id": 4242})
    assert again["provider:segmentation_id"] == 4242


async def test_tenant_isolation(neutron: Neutron, alice: Tenant, bob: Tenant,
                                admin: Tenant) -> None:
    net = await neutron.network(alice, "secret")
    nid = net["id"]
    assert (await neutron.ok("GET", "/v2.0/networks", bob))["networks"] == []
    for method, kw in (("GET", {}), ("PUT", {"json": {"network": {"name": "x"}}}),
                       ("DELETE", {})):
        await neutron.fail(method, f"/v2.0/networks/{nid}", bob, 404, "NetworkNotFound", **kw)
    await neutron.fail("POST", "/v2.0/ports", bob, 404, "NetworkNotFound",
                       json={"port": {"network_id": nid}})
    await neutron.fail("POST", "/v2.0/networks", bob, 400, "HTTPBadRequest",
                       json={"network": {"project_id": alice.project_id}})
    everything = await neutron.ok("GET", "/v2.0/networks", admin)
    assert nid in {n["id"] for n in everything["networks"]}
    mine = await neutron.ok("GET", f"/v2.0/networks?project_id={alice.project_id}", admin)
    assert [n["id"] for n in mine["networks"]] == [nid]
    made = await neutron.network(admin, "for-bob", project_id=bob.project_id)
    assert made["project_id"] == bob.project_id
    assert [n["id"] for n in (await neutron.ok("GET", "/v2.0/networks", bob))["networks"]] \
        == [made["id"]]


async def test_reader_cannot_write(neutron: Neutron, alice: Tenant) -> None:
    reader = await neutron.user(alice.project_id, "reader")
    net = await neutron.network(alice, "n")
    await neutron.ok("GET", f"/v2.0/networks/{net['id']}", reader)
    await neutron.fail("POST", "/v2.0/networks", reader, 403, "PolicyNotAuthorized",
                       json={"network": {"name": "r"}})
    await neutron.fail("PUT", f"/v2.0/networks/{net['id']}", reader, 403,
                       "PolicyNotAuthorized", json={"network": {"name": "r"}})
    await neutron.fail("DELETE", f"/v2.0/networks/{net['id']}", reader, 403,
                       "PolicyNotAuthorized")
    await neutron.fail("PUT", f"/v2.0/networks/{net['id']}/tags/x", reader, 403,
                       "PolicyNotAuthorized")


async def test_shared_networks(neutron: Neutron, alice: Tenant, bob: Tenant,
                               admin: Tenant) -> None:
    await neutron.fail("POST", "/v2.0/networks", alice, 403, "PolicyNotAuthorized",
                       json={"network": {"shared": True}})
    net = await neutron.network(admin, "public", shared=True)
    sub = await neutron.subnet(admin, net["id"], "10.5.0.0/24")
    nid = net["id"]
    assert nid in {n["id"] for n in (await neutron.ok("GET", "/v2.0/networks", bob))["networks"]}
    assert (await neutron.ok("GET", f"/v2.0/networks/{nid}", bob))["network"]["shared"]
    assert sub["id"] in {s["id"] for s in (await neutron.ok("GET", "/v2.0/subnets",
                                                             bob))["subnets"]}
    await neutron.fail("PUT", f"/v2.0/networks/{nid}", bob, 403, "PolicyNotAuthorized",
                       json={"network": {"name": "mine"}})
    await neutron.fail("DELETE", f"/v2.0/networks/{nid}", bob, 403, "PolicyNotAuthorized")
    port = await neutron.port(bob, nid)
    assert port["project_id"] == bob.project_id and port["fixed_ips"]
    # bob's port is not alice's business
    assert (await neutron.ok("GET", "/v2.0/ports", alice))["ports"] == []
    # the network owner (admin project) sees ports on its shared network
    assert port["id"] in {p["id"] for p in (await neutron.ok("GET", "/v2.0/ports",
                                                              admin))["ports"]}
    msg = await neutron.fail("PUT", f"/v2.0/networks/{nid}", admin, 409,
                             "InvalidSharedSetting", json={"network": {"shared": False}})
    assert "Multiple tenants" in msg
    await neutron.ok("DELETE", f"/v2.0/ports/{port['id']}", bob, 204)
    await neutron.ok("PUT", f"/v2.0/networks/{nid}", admin, json={"network": {"shared": False}})
    assert (await neutron.ok("GET", "/v2.0/networks", bob))["networks"] == []
    await neutron.fail("GET", f"/v2.0/networks/{nid}", bob, 404, "NetworkNotFound")


async def test_network_delete_cascade(neutron: Neutron, alice: Tenant) -> None:
    from kumo.core import ports as core_ports
    from kumo.model import network as nm

    net = await neutron.network(alice, "n")
    nid = net["id"]
    sub = await neutron.subnet(alice, nid)
    port = await neutron.port(alice, nid)
    msg = await neutron.fail("DELETE", f"/v2.0/networks/{nid}", alice, 409, "NetworkInUse")
    assert msg == (f"Unable to complete operation on network {nid}. There are one or more "
                   "ports still in use on the network.")
    await neutron.ok("DELETE", f"/v2.0/ports/{port['id']}", alice, 204)
    dhcp = await core_ports.create_system_port(
        neutron.objects, alice.project_id, nid, device_owner=nm.DHCP_OWNER,
        device_id=nm.dhcp_device_id(nid), subnet_ids=[sub["id"]])
    assert dhcp["spec"]["fixedIps"] and dhcp["spec"]["securityGroups"] == []
    await neutron.ok("DELETE", f"/v2.0/networks/{nid}", alice, 204)
    objs = neutron.objects
    for kind in (nm.SUBNET, nm.PORT):
        assert (await objs.list(kind, None)).items == []
    for kind in (nm.IP_ALLOCATION, nm.MAC_ALLOCATION, nm.SEGMENT_ALLOCATION):
        assert (await objs.list(kind, None)).items == []
