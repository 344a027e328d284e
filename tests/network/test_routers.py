"""Routers, external networks and floating IPs through the Neutron API: CRUD, interfaces
by subnet and by port, gateways, extra routes, quotas, and Neutron's refusals."""

from __future__ import annotations

from typing import Any

from kumo.core import quotas
from kumo.model import network as nm

from .conftest import Neutron, Tenant


async def _external(neutron: Neutron, admin: Tenant, cidr: str = "198.18.100.0/24"
                    ) -> tuple[str, str]:
    net = await neutron.network(admin, "public", **{"router:external": True})
    sub = await neutron.subnet(admin, net["id"], cidr)
    return net["id"], sub["id"]


async def _router(neutron: Neutron, who: Tenant, **body: Any) -> dict[str, Any]:
    return (await neutron.ok("POST", "/v2.0/routers", who, 201,
                             json={"router": {"name": "r", **body}}))["router"]


async def _iface(neutron: Neutron, who: Tenant, rid: str, action: str = "add",
                 status: int = 200, **body: Any) -> dict[str, Any]:
    return await neutron.ok("PUT", f"/v2.0/routers/{rid}/{action}_router_interface", who,
                            status, json=body)


async def test_external_network_admin_only_and_visible(neutron: Neutron, admin: Tenant,
                                                       alice: Tenant) -> None:
    await neutron.fail("POST", "/v2.0/networks", alice, 403, "PolicyNotAuthorized",
                       json={"network": {"name": "x", "router:external": True}})
    ext, _ = await _external(neutron, admin)
    nets = (await neutron.ok("GET", "/v2.0/networks?router:external=True", alice))["networks"]
    assert [n["id"] for n in nets] == [ext]
    shown = (await neutron.ok("GET", f"/v2.0/networks/{ext}", alice))["network"]
    assert shown["router:external"] is True
    assert (await neutron.ok("GET", f"/v2.0/subnets?network_id={ext}", alice))[
        "subnets"] == []  # listed network, unlisted subnets (Neutron)
    await neutron.fail("PUT", f"/v2.0/networks/{ext}", alice, 404, "NetworkNotFound",
                       json={"network": {"name": "mine"}})
    aliases = {e["alias"] for e in (await neutron.ok("GET", "/v2.0/extensions",
                                                     alice))["extensions"]}
    assert {"router", "extraroute", "external-net", "ext-gw-mode"} <= aliases


async def test_router_crud_gateway_and_interfaces(neutron: Neutron, admin: Tenant,
                                                  alice: Tenant, bob: Tenant) -> None:
    ext, ext_sub = await _external(neutron, admin)
    r = await _router(neutron, alice, external_gateway_info={"network_id": ext})
    rid = r["id"]
    gw = r["external_gateway_info"]
    assert gw["network_id"] == ext and gw["enable_snat"] is True
    assert gw["external_fixed_ips"][0]["subnet_id"] == ext_sub
    assert r["status"] == "ACTIVE" and r["routes"] == []
    await neutron.fail("GET", f"/v2.0/routers/{rid}", bob, 404, "RouterNotFound")
    # the gateway port is not the tenant's
    mine = (await neutron.ok("GET", "/v2.0/ports", alice))["ports"]
    assert not [p for p in mine if p["device_owner"] == nm.ROUTER_GATEWAY_OWNER]

    net = await neutron.network(alice, "a")
    sub = await neutron.subnet(alice, net["id"], "10.1.0.0/24")
    iface = await _iface(neutron, alice, rid, subnet_id=sub["id"])
    assert iface["subnet_id"] == sub["id"] and iface["id"] == rid
    port = (await neutron.ok("GET", f"/v2.0/ports/{iface['port_id']}", alice))["port"]
    assert port["device_owner"] == nm.ROUTER_INTERFACE_OWNER and port["device_id"] == rid
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.1"}]
    msg = await neutron.fail("PUT", f"/v2.0/routers/{rid}/add_router_interface", alice, 400,
                             "BadRequest", json={"subnet_id": sub["id"]})
    assert "already has a port on subnet" in msg
    net2 = await neutron.network(alice, "b")
    overlap = await neutron.subnet(alice, net2["id"], "10.1.0.0/16")
    msg = await neutron.fail("PUT", f"/v2.0/routers/{rid}/add_router_interface", alice, 400,
                             "BadRequest", json={"subnet_id": overlap["id"]})
    assert "overlaps" in msg
    await neutron.fail("PUT", f"/v2.0/routers/{rid}/add_router_interface", alice, 400,
                       "HTTPBadRequest", json={})
    msg = await neutron.fail("DELETE", f"/v2.0/routers/{rid}", alice, 409, "RouterInUse")
    assert "still has ports" in msg
    await neutron.fail("DELETE", f"/v2.0/subnets/{sub['id']}", alice, 409, "SubnetInUse")

    # by port: the tenant's own port becomes the interface
    net3 = await neutron.network(alice, "c")
    sub3 = await neutron.subnet(alice, net3["id"], "10.3.0.0/24")
    p3 = await neutron.port(alice, net3["id"])
    iface3 = await _iface(neutron, alice, rid, port_id=p3["id"])
    assert iface3["port_id"] == p3["id"] and iface3["subnet_ids"] == [sub3["id"]]
    await neutron.fail("PUT", f"/v2.0/routers/{rid}/add_router_interface", alice, 409,
                       "PortInUse", json={"port_id": p3["id"]})

    # extra routes: the nexthop must be on a connected subnet
    await neutron.fail("PUT", f"/v2.0/routers/{rid}", alice, 400, "InvalidRoutes",
                       json={"router": {"routes": [{"destination": "10.9.0.0/16",
                                                    "nexthop": "10.99.0.5"}]}})
    upd = await neutron.ok("PUT", f"/v2.0/routers/{rid}", alice, json={"router": {
        "routes": [{"destination": "10.9.0.0/16", "nexthop": "10.1.0.5"}],
        "external_gateway_info": {"network_id": ext, "enable_snat": False}}})
    assert upd["router"]["routes"] == [{"destination": "10.9.0.0/16", "nexthop": "10.1.0.5"}]
    assert upd["router"]["external_gateway_info"]["enable_snat"] is False
    assert upd["router"]["external_gateway_info"]["external_fixed_ips"] == \
        gw["external_fixed_ips"]
    await neutron.fail("PUT", f"/v2.0/routers/{rid}/remove_router_interface", alice, 409,
                       "RouterInterfaceInUseByRoute", json={"subnet_id": sub["id"]})
    await neutron.ok("PUT", f"/v2.0/routers/{rid}", alice,
                     json={"router": {"routes": []}})

    await _iface(neutron, alice, rid, "remove", subnet_id=sub["id"])
    await neutron.fail("GET", f"/v2.0/ports/{iface['port_id']}", alice, 404, "PortNotFound")
    await neutron.fail("PUT", f"/v2.0/routers/{rid}/remove_router_interface", alice, 404,
                       "RouterInterfaceNotFoundForSubnet", json={"subnet_id": sub["id"]})
    await _iface(neutron, alice, rid, "remove", port_id=p3["id"])
    await neutron.ok("DELETE", f"/v2.0/routers/{rid}", alice, 204)
    await neutron.fail("GET", f"/v2.0/routers/{rid}", alice, 404, "RouterNotFound")
    left = await neutron.objects.list(nm.PORT, None, label_selector=f"{nm.DEVICE_LABEL}={rid}")
    assert left.items == []
    used = await quotas.usage(neutron.objects, alice.project_id, quotas.NETWORK)
    assert used.get("router", 0) == 0


async def test_gateway_needs_external_network(neutron: Neutron, alice: Tenant) -> None:
    net = await neutron.network(alice, "plain")
    await neutron.subnet(alice, net["id"], "10.5.0.0/24")
    msg = await neutron.fail("POST", "/v2.0/routers", alice, 400, "BadRequest", json={
        "router": {"external_gateway_info": {"network_id": net["id"]}}})
    assert "not a valid external network" in msg
    await neutron.fail("POST", "/v2.0/routers", alice, 404, "NetworkNotFound", json={
        "router": {"external_gateway_info": {"network_id": "5f0e-no-such-net"}}})
    assert (await neutron.ok("GET", "/v2.0/routers", alice))["routers"] == []


async def test_router_quota(neutron: Neutron, admin: Tenant, alice: Tenant) -> None:
    await neutron.ok("PUT", f"/v2.0/quotas/{alice.project_id}", admin,
                     json={"quota": {"router": 1, "floatingip": 1}})
    await _router(neutron, alice)
    await neutron.fail("POST", "/v2.0/routers", alice, 409, "OverQuota",
                       json={"router": {"name": "two"}})


async def _routed_port(neutron: Neutron, admin: Tenant, alice: Tenant
                       ) -> tuple[str, str, dict[str, Any]]:
    ext, _ = await _external(neutron, admin)
    rid = (await _router(neutron, alice, external_gateway_info={"network_id": ext}))["id"]
    net = await neutron.network(alice, "a")
    sub = await neutron.subnet(alice, net["id"], "10.1.0.0/24")
    await _iface(neutron, alice, rid, subnet_id=sub["id"])
    return ext, rid, await neutron.port(alice, net["id"])


async def test_floating_ip_lifecycle(neutron: Neutron, admin: Tenant, alice: Tenant,
                                     bob: Tenant) -> None:
    ext, rid, port = await _routed_port(neutron, admin, alice)
    fip = (await neutron.ok("POST", "/v2.0/floatingips", alice, 201, json={
        "floatingip": {"floating_network_id": ext}}))["floatingip"]
    assert fip["status"] == "DOWN" and fip["port_id"] is None and fip["router_id"] is None
    assert fip["floating_ip_address"].startswith("198.18.100.")
    fid = fip["id"]
    await neutron.fail("GET", f"/v2.0/floatingips/{fid}", bob, 404, "FloatingIPNotFound")
    up = (await neutron.ok("PUT", f"/v2.0/floatingips/{fid}", alice, json={
        "floatingip": {"port_id": port["id"]}}))["floatingip"]
    assert up["router_id"] == rid and up["fixed_ip_address"] == \
        port["fixed_ips"][0]["ip_address"]
    second = (await neutron.ok("POST", "/v2.0/floatingips", alice, 201, json={
        "floatingip": {"floating_network_id": ext}}))["floatingip"]
    await neutron.fail("PUT", f"/v2.0/floatingips/{second['id']}", alice, 409,
                       "FloatingIPPortAlreadyAssociated",
                       json={"floatingip": {"port_id": port["id"]}})
    # the interface and the router are needed by the FIP
    await neutron.fail("DELETE", f"/v2.0/routers/{rid}", alice, 409, "RouterInUse")
    await neutron.fail("PUT", f"/v2.0/routers/{rid}", alice, 409,
                       "RouterExternalGatewayInUseByFloatingIp",
                       json={"router": {"external_gateway_info": {}}})
    down = (await neutron.ok("PUT", f"/v2.0/floatingips/{fid}", alice, json={
        "floatingip": {"port_id": None}}))["floatingip"]
    assert down["port_id"] is None and down["router_id"] is None
    await neutron.ok("DELETE", f"/v2.0/floatingips/{fid}", alice, 204)
    await neutron.fail("DELETE", f"/v2.0/floatingips/{fid}", alice, 404, "FloatingIPNotFound")
    held = await neutron.objects.list(nm.PORT, None, label_selector=(
        f"{nm.OWNER_LABEL}={nm.owner_label(nm.FLOATING_IP_OWNER)}"))
    assert [p["spec"]["deviceId"] for p in held.items] == [second["id"]]


async def test_floating_ip_refusals(neutron: Neutron, admin: Tenant, alice: Tenant) -> None:
    ext, _rid, _port = await _routed_port(neutron, admin, alice)
    await neutron.fail("POST", "/v2.0/floatingips", alice, 403, "PolicyNotAuthorized", json={
        "floatingip": {"floating_network_id": ext, "floating_ip_address": "198.18.100.77"}})
    got = (await neutron.ok("POST", "/v2.0/floatingips", admin, 201, json={"floatingip": {
        "floating_network_id": ext, "floating_ip_address": "198.18.100.77"}}))["floatingip"]
    assert got["floating_ip_address"] == "198.18.100.77"
    await neutron.fail("POST", "/v2.0/floatingips", admin, 409, "IpAddressAlreadyAllocated",
                       json={"floatingip": {"floating_network_id": ext,
                                            "floating_ip_address": "198.18.100.77"}})
    lonely = await neutron.network(alice, "lonely")
    await neutron.subnet(alice, lonely["id"], "10.7.0.0/24")
    p = await neutron.port(alice, lonely["id"])
    await neutron.fail("POST", "/v2.0/floatingips", alice, 404,
                       "ExternalGatewayForFloatingIPNotFound", json={"floatingip": {
                           "floating_network_id": ext, "port_id": p["id"]}})
    await neutron.fail("POST", "/v2.0/floatingips", alice, 400, "BadRequest", json={
        "floatingip": {"floating_network_id": lonely["id"]}})
    assert (await neutron.ok("GET", "/v2.0/floatingips", alice))["floatingips"] == []
    await neutron.ok("PUT", f"/v2.0/quotas/{alice.project_id}", admin,
                     json={"quota": {"floatingip": 1}})
    await neutron.ok("POST", "/v2.0/floatingips", alice, 201,
                     json={"floatingip": {"floating_network_id": ext}})
    await neutron.fail("POST", "/v2.0/floatingips", alice, 409, "OverQuota",
                       json={"floatingip": {"floating_network_id": ext}})


async def test_nova_floating_ip_proxy(neutron: Neutron, admin: Tenant, alice: Tenant) -> None:
    ext, rid, port = await _routed_port(neutron, admin, alice)
    fip = (await neutron.ok("POST", "/v2.0/floatingips", alice, 201, json={"floatingip": {
        "floating_network_id": ext, "port_id": port["id"]}}))["floatingip"]
    headers = {"X-Auth-Token": alice.token, "OpenStack-API-Version": "compute 2.35"}
    r = await neutron.client.get("/compute/v2.1/os-floating-ips", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["floating_ips"] == [{
        "id": fip["id"], "ip": fip["floating_ip_address"],
        "fixed_ip": port["fixed_ips"][0]["ip_address"], "instance_id": None,
        "pool": "public"}]
    one = await neutron.client.get(f"/compute/v2.1/os-floating-ips/{fip['id']}",
                                   headers=headers)
    assert one.json()["floating_ip"]["id"] == fip["id"]
    gone = await neutron.client.get("/compute/v2.1/os-floating-ips", headers={
        "X-Auth-Token": alice.token, "OpenStack-API-Version": "compute 2.36"})
    assert gone.status_code == 404


async def test_external_network_delete_takes_its_floating_ips(neutron: Neutron, admin: Tenant,
                                                              alice: Tenant) -> None:
    ext, _ = await _external(neutron, admin)
    fip = (await neutron.ok("POST", "/v2.0/floatingips", alice, 201, json={
        "floatingip": {"floating_network_id": ext}}))["floatingip"]
    rid = (await _router(neutron, alice, external_gateway_info={"network_id": ext}))["id"]
    await neutron.fail("DELETE", f"/v2.0/networks/{ext}", admin, 409, "NetworkInUse")
    await neutron.ok("PUT", f"/v2.0/routers/{rid}", alice,
                     json={"router": {"external_gateway_info": {}}})
    await neutron.ok("DELETE", f"/v2.0/networks/{ext}", admin, 204)
    await neutron.fail("GET", f"/v2.0/floatingips/{fip['id']}", alice, 404,
                       "FloatingIPNotFound")
    used = await quotas.usage(neutron.objects, alice.project_id, quotas.NETWORK)
    assert used.get("floatingip", 0) == 0
