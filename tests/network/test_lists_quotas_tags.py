"""List queries (filters, fields, sorting, pagination), tags and quotas."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from .conftest import Neutron, Tenant


async def _names(neutron: Neutron, who: Tenant, query: str) -> list[str]:
    body = await neutron.ok("GET", f"/v2.0/networks?{query}", who)
    return [n["name"] for n in body["networks"]]


async def test_filters_fields_sorting(neutron: Neutron, alice: Tenant) -> None:
    for name, up in (("c", True), ("a", False), ("b", True)):
        await neutron.network(alice, name, admin_state_up=up)
    assert await _names(neutron, alice, "") == ["c", "a", "b"]  # creation order
    assert await _names(neutron, alice, "name=a&name=b&sort_key=name") == ["a", "b"]
    assert await _names(neutron, alice, "admin_state_up=False") == ["a"]
    assert await _names(neutron, alice, "sort_key=name&sort_dir=desc") == ["c", "b", "a"]
    assert await _names(neutron, alice,
                        "sort_key=admin_state_up&sort_dir=asc&sort_key=name&sort_dir=desc") \
        == ["a", "c", "b"]
    body = await neutron.ok("GET", "/v2.0/networks?fields=id&fields=name", alice)
    assert all(set(n) == {"id", "name"} for n in body["networks"])
    one = await neutron.ok("GET", f"/v2.0/networks/{body['networks'][0]['id']}?fields=mtu",
                           alice)
    assert one["network"] == {"mtu": 1450}
    await neutron.fail("GET", "/v2.0/networks?colour=red", alice, 400, "HTTPBadRequest")
    await neutron.fail("GET", "/v2.0/networks?sort_key=colour", alice, 400, "HTTPBadRequest")
    await neutron.fail("GET", "/v2.0/networks?sort_key=name&sort_dir=up", alice, 400,
                       "HTTPBadRequest")


async def test_port_filters(neutron: Neutron, alice: Tenant) -> None:
    net = (await neutron.network(alice, "n"))["id"]
    await neutron.subnet(alice, net, "10.0.0.0/24")
    p1 = await neutron.port(alice, net, device_owner="compute:nova", device_id="vm1")
    await neutron.port(alice, net)
    ip = p1["fixed_ips"][0]["ip_address"]
    found = await neutron.ok("GET", f"/v2.0/ports?fixed_ips=ip_address%3D{ip}", alice)
    assert [p["id"] for p in found["ports"]] == [p1["id"]]
    found = await neutron.ok("GET", "/v2.0/ports?device_owner=compute:nova", alice)
    assert [p["id"] for p in found["ports"]] == [p1["id"]]
    found = await neutron.ok("GET", f"/v2.0/ports?network_id={net}&device_id=vm1", alice)
    assert [p["id"] for p in found["ports"]] == [p1["id"]]
    p9 = await neutron.port(alice, net, fixed_ips=[{"ip_address": "10.0.0.90"}])
    found = await neutron.ok("GET", "/v2.0/ports?fixed_ips=ip_address_substr%3D0.0.9", alice)
    assert [p["id"] for p in found["ports"]] == [p9["id"]]  # ip-substring-filtering


async def test_pagination(neutron: Neutron, alice: Tenant) -> None:
    for i in range(5):
        await neutron.network(alice, f"n{i}")
    page = await neutron.ok("GET", "/v2.0/networks?limit=2&sort_key=name", alice)
    assert [n["name"] for n in page["networks"]] == ["n0", "n1"]
    links = {link["rel"]: link["href"] for link in page["networks_links"]}
    assert set(links) == {"next"}
    seen = [n["name"] for n in page["networks"]]
    href = links["next"]
    while href:
        q = urlparse(href).query
        assert parse_qs(q)["limit"] == ["2"]
        page = await neutron.ok("GET", f"/v2.0/networks?{q}", alice)
        seen += [n["name"] for n in page["networks"]]
        links = {link["rel"]: link["href"] for link in page.get("networks_links", [])}
        assert "previous" in links
        href = links.get("next")
    assert seen == [f"n{i}" for i in range(5)]
    prev = urlparse(links["previous"]).query
    back = await neutron.ok("GET", f"/v2.0/networks?{prev}", alice)
    assert [n["name"] for n in back["networks"]] == ["n2", "n3"]
    await neutron.fail("GET", "/v2.0/networks?limit=x", alice, 400, "HTTPBadRequest")


async def test_tags(neutron: Neutron, alice: Tenant, bob: Tenant) -> None:
    a = (await neutron.network(alice, "a"))["id"]
    b = (await neutron.network(alice, "b"))["id"]
    base = f"/v2.0/networks/{a}/tags"
    assert (await neutron.ok("PUT", base, alice, json={"tags": ["x", "y"]}))["tags"] == \
        ["x", "y"]
    await neutron.ok("PUT", base + "/z", alice, 201)
    assert (await neutron.ok("GET", base, alice))["tags"] == ["x", "y", "z"]
    await neutron.ok("GET", base + "/z", alice, 204)
    await neutron.fail("GET", base + "/nope", alice, 404, "TagNotFound")
    await neutron.ok("DELETE", base + "/y", alice, 204)
    await neutron.fail("DELETE", base + "/y", alice, 404, "TagNotFound")
    await neutron.ok("PUT", f"/v2.0/networks/{b}/tags", alice, json={"tags": ["x"]})
    assert await _names(neutron, alice, "tags=x,z") == ["a"]
    assert await _names(neutron, alice, "tags=x") == ["a", "b"]
    assert await _names(neutron, alice, "tags-any=z,q") == ["a"]
    assert await _names(neutron, alice, "not-tags=x,z") == ["b"]
    assert await _names(neutron, alice, "not-tags-any=z") == ["b"]
    await neutron.fail("PUT", base, bob, 404, "NetworkNotFound", json={"tags": []})
    await neutron.ok("DELETE", base, alice, 204)
    assert (await neutron.ok("GET", base, alice))["tags"] == []
    sub = await neutron.subnet(alice, a, "10.0.0.0/24")
    await neutron.ok("PUT", f"/v2.0/subnets/{sub['id']}/tags/s", alice, 201)
    port = await neutron.port(alice, a, tags=["p"])
    assert port["tags"] == ["p"]
    await neutron.ok("PUT", f"/v2.0/ports/{port['id']}/tags/q", alice, 201)
    sgs = (await neutron.ok("GET", "/v2.0/security-groups", alice))["security_groups"]
    await neutron.ok("PUT", f"/v2.0/security-groups/{sgs[0]['id']}/tags/g", alice, 201)
    assert (await neutron.ok("GET", "/v2.0/ports?tags=q", alice))["ports"][0]["tags"] == \
        ["p", "q"]
    await neutron.fail("PUT", "/v2.0/trunks/x/tags/a", alice, 404, "HTTPNotFound")
    await neutron.fail("PUT", "/v2.0/routers/x/tags/a", alice, 404, "RouterNotFound")


async def test_quotas(neutron: Neutron, alice: Tenant, bob: Tenant, admin: Tenant) -> None:
    pid = alice.project_id
    q = (await neutron.ok("GET", f"/v2.0/quotas/{pid}", alice))["quota"]
    assert (q["network"], q["subnet"], q["port"], q["security_group"],
            q["security_group_rule"]) == (100, 100, 500, 10, 100)
    await neutron.fail("GET", f"/v2.0/quotas/{pid}", bob, 403, "PolicyNotAuthorized")
    await neutron.fail("PUT", f"/v2.0/quotas/{pid}", alice, 403, "PolicyNotAuthorized",
                       json={"quota": {"network": 1}})
    await neutron.fail("PUT", f"/v2.0/quotas/{pid}", admin, 400, "HTTPBadRequest",
                       json={"quota": {"bananas": 1}})
    upd = await neutron.ok("PUT", f"/v2.0/quotas/{pid}", admin,
                           json={"quota": {"network": 1, "port": 1}})
    assert upd["quota"]["network"] == 1 and upd["quota"]["subnet"] == 100
    net = await neutron.network(alice, "one")
    msg = await neutron.fail("POST", "/v2.0/networks", alice, 409, "OverQuota",
                             json={"network": {"name": "two"}})
    assert msg == "Quota exceeded for resources: ['network']."
    await neutron.port(alice, net["id"])
    await neutron.fail("POST", "/v2.0/ports", alice, 409, "OverQuota",
                       json={"port": {"network_id": net["id"]}})
    det = (await neutron.ok("GET", f"/v2.0/quotas/{pid}/details", alice))["quota"]
    assert det["network"] == {"limit": 1, "used": 1, "reserved": 0}
    assert det["port"]["used"] == 1
    listed = (await neutron.ok("GET", "/v2.0/quotas", admin))["quotas"]
    assert [x["project_id"] for x in listed] == [pid]
    await neutron.fail("GET", "/v2.0/quotas", alice, 403, "PolicyNotAuthorized")
    default = (await neutron.ok("GET", f"/v2.0/quotas/{pid}/default", alice))["quota"]
    assert default["network"] == 100
    await neutron.ok("DELETE", f"/v2.0/quotas/{pid}", admin, 204)
    assert (await neutron.ok("GET", f"/v2.0/quotas/{pid}", alice))["quota"]["network"] == 100
    await neutron.network(alice, "two")
