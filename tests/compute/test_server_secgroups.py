"""Nova's security-group proxies: a server's groups, add/remove actions, the old list."""

from __future__ import annotations

from typing import Any

from .conftest import Nova, Tenant


async def _neutron(nova: Nova, who: Tenant, method: str, path: str, status: int, **kw: Any
                   ) -> Any:
    r = await nova.client.request(method, "/network/v2.0" + path,
                                  headers={"X-Auth-Token": who.token}, **kw)
    assert r.status_code == status, r.text
    return r.json() if r.content else None


async def _server_on_net(nova: Nova, who: Tenant, image: str) -> tuple[str, str]:
    net = (await _neutron(nova, who, "POST", "/networks", 201,
                          json={"network": {"name": "n"}}))["network"]["id"]
    await _neutron(nova, who, "POST", "/subnets", 201, json={"subnet": {
        "network_id": net, "ip_version": 4, "cidr": "10.5.0.0/24"}})
    sid = await nova.boot(who, image, networks=[{"uuid": net}])
    return sid, net


async def test_add_list_remove_security_group(nova: Nova, alice: Tenant,
                                              public_image: str) -> None:
    sid, _ = await _server_on_net(nova, alice, public_image)
    web = (await _neutron(nova, alice, "POST", "/security-groups", 201,
                          json={"security_group": {"name": "web"}}))["security_group"]
    await _neutron(nova, alice, "POST", "/security-group-rules", 201, json={
        "security_group_rule": {"security_group_id": web["id"], "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 80,
                                "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"}})
    groups = (await nova.ok("GET", f"/v2.1/servers/{sid}/os-security-groups", alice)
              )["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    assert await nova.ok(
        "POST", f"/v2.1/servers/{sid}/action", alice, 202,
        json={"addSecurityGroup": {"name": "web"}}) is None
    groups = (await nova.ok("GET", f"/v2.1/servers/{sid}/os-security-groups", alice)
              )["security_groups"]
    assert [g["name"] for g in groups] == ["default", "web"]
    rule = groups[1]["rules"][0]  # Nova shows ingress rules only, in its own words
    assert (rule["ip_protocol"], rule["from_port"], rule["to_port"], rule["ip_range"]) == \
        ("tcp", 80, 80, {"cidr": "0.0.0.0/0"}) and len(groups[1]["rules"]) == 1
    ports = await _neutron(nova, alice, "GET", f"/ports?device_id={sid}", 200)
    assert web["id"] in ports["ports"][0]["security_groups"]

    again = await nova.call("POST", f"/v2.1/servers/{sid}/action", alice,
                            json={"addSecurityGroup": {"name": "web"}})
    assert again.status_code == 400 and "already associated" in again.text
    await nova.ok("POST", f"/v2.1/servers/{sid}/action", alice, 202,
                  json={"removeSecurityGroup": {"name": web["id"]}})
    gone = await nova.call("POST", f"/v2.1/servers/{sid}/action", alice,
                           json={"removeSecurityGroup": {"name": "web"}})
    assert gone.status_code == 400 and "not associated" in gone.json()["badRequest"]["message"]
    missing = await nova.call("POST", f"/v2.1/servers/{sid}/action", alice,
                              json={"addSecurityGroup": {"name": "nope"}})
    assert missing.status_code == 404 and "itemNotFound" in missing.json()


async def test_duplicate_names_and_server_without_ports(nova: Nova, alice: Tenant,
                                                        public_image: str) -> None:
    sid, _ = await _server_on_net(nova, alice, public_image)
    for _ in range(2):
        await _neutron(nova, alice, "POST", "/security-groups", 201,
                       json={"security_group": {"name": "twin"}})
    r = await nova.call("POST", f"/v2.1/servers/{sid}/action", alice,
                        json={"addSecurityGroup": {"name": "twin"}})
    assert r.status_code == 409 and "Multiple security_group matches" in r.text
    bare = await nova.boot(alice, public_image, name="bare")
    r = await nova.call("POST", f"/v2.1/servers/{bare}/action", alice,
                        json={"addSecurityGroup": {"name": "default"}})
    assert r.status_code == 400 and "port_security_enabled" in r.text


async def test_deprecated_list_proxy_before_236_only(nova: Nova, alice: Tenant) -> None:
    listed = await nova.ok("GET", "/v2.1/os-security-groups", alice, version="2.1")
    (default,) = listed["security_groups"]
    assert default["name"] == "default" and default["tenant_id"] == alice.project_id
    assert {r["group"].get("name") for r in default["rules"]} == {"default"}
    one = await nova.ok("GET", f"/v2.1/os-security-groups/{default['id']}", alice,
                        version="2.1")
    assert one["security_group"]["id"] == default["id"]
    r = await nova.call("GET", "/v2.1/os-security-groups", alice, version="2.36")
    assert r.status_code == 404


async def test_create_with_named_groups(nova: Nova, alice: Tenant, public_image: str) -> None:
    net = (await _neutron(nova, alice, "POST", "/networks", 201,
                          json={"network": {"name": "n"}}))["network"]["id"]
    await _neutron(nova, alice, "POST", "/subnets", 201, json={"subnet": {
        "network_id": net, "ip_version": 4, "cidr": "10.6.0.0/24"}})
    web = (await _neutron(nova, alice, "POST", "/security-groups", 201,
                          json={"security_group": {"name": "web"}}))["security_group"]
    sid = await nova.boot(alice, public_image, networks=[{"uuid": net}],
                          security_groups=[{"name": "web"}, {"name": "default"}])
    ports = (await _neutron(nova, alice, "GET", f"/ports?device_id={sid}", 200))["ports"]
    default = (await nova.ok("GET", "/v2.1/os-security-groups", alice, version="2.1")
               )["security_groups"]
    ids = {g["name"]: g["id"] for g in default}
    assert ports[0]["security_groups"] == [web["id"], ids["default"]]
    r = await nova.call("POST", "/v2.1/servers", alice, json={"server": {
        "name": "x", "imageRef": public_image, "flavorRef": "42",
        "networks": [{"uuid": net}], "security_groups": [{"name": "nope"}]}})
    assert r.status_code == 400 and "Security group nope not found." in r.text
