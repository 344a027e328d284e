"""Security groups and rules: the default group, validation, duplicates, in-use."""

from __future__ import annotations

import asyncio

import pytest

from kumo.model import network as nm

from .conftest import Neutron, Tenant


async def _group(neutron: Neutron, who: Tenant, name: str = "web") -> dict:
    return (await neutron.ok("POST", "/v2.0/security-groups", who, 201,
                             json={"security_group": {"name": name}}))["security_group"]


async def _rule(neutron: Neutron, who: Tenant, status: int = 201, **body) -> dict:
    return await neutron.ok("POST", "/v2.0/security-group-rules", who, status,
                            json={"security_group_rule": body})


async def test_default_group(neutron: Neutron, alice: Tenant) -> None:
    groups = (await neutron.ok("GET", "/v2.0/security-groups", alice))["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    assert default["id"] == nm.default_security_group_id(alice.project_id)
    rules = {(r["direction"], r["ethertype"], r["remote_group_id"])
             for r in default["security_group_rules"]}
    gid = default["id"]
    assert rules == {("egress", "IPv4", None), ("egress", "IPv6", None),
                     ("ingress", "IPv4", gid), ("ingress", "IPv6", gid)}
    again = (await neutron.ok("GET", "/v2.0/security-groups", alice))["security_groups"]
    assert len(again) == 1
    msg = await neutron.fail("DELETE", f"/v2.0/security-groups/{gid}", alice, 409,
                             "SecurityGroupCannotRemoveDefault")
    assert "default security group" in msg
    await neutron.fail("POST", "/v2.0/security-groups", alice, 409,
                       "SecurityGroupDefaultAlreadyExists",
                       json={"security_group": {"name": "default"}})


async def test_group_crud_and_isolation(neutron: Neutron, alice: Tenant, bob: Tenant) -> None:
    g = await _group(neutron, alice)
    assert g["stateful"] is True
    assert {r["direction"] for r in g["security_group_rules"]} == {"egress"}
    gid = g["id"]
    upd = await neutron.ok("PUT", f"/v2.0/security-groups/{gid}", alice,
                           json={"security_group": {"name": "web2", "description": "d"}})
    assert upd["security_group"]["name"] == "web2"
    msg = await neutron.fail("GET", f"/v2.0/security-groups/{gid}", bob, 404,
                             "SecurityGroupNotFound")
    assert msg == f"Security group {gid} does not exist"
    assert gid not in {x["id"] for x in (await neutron.ok("GET", "/v2.0/security-groups",
                                                           bob))["security_groups"]}
    await neutron.fail("POST", "/v2.0/security-group-rules", bob, 404,
                       "SecurityGroupNotFound", json={"security_group_rule": {
                           "security_group_id": gid, "direction": "ingress"}})
    net = (await neutron.network(alice, "n"))["id"]
    port = await neutron.port(alice, net, security_groups=[gid])
    await neutron.fail("DELETE", f"/v2.0/security-groups/{gid}", alice, 409,
                       "SecurityGroupInUse")
    await neutron.ok("DELETE", f"/v2.0/ports/{port['id']}", alice, 204)
    await neutron.ok("DELETE", f"/v2.0/security-groups/{gid}", alice, 204)
    rules = await neutron.objects.list(nm.SECURITY_GROUP_RULE, alice.project_id,
                                       label_selector=f"{nm.SG_LABEL}={gid}")
    assert rules.items == []


async def test_rules(neutron: Neutron, alice: Tenant) -> None:
    gid = (await _group(neutron, alice))["id"]
    r = (await _rule(neutron, alice, security_group_id=gid, direction="ingress",
                     protocol="tcp", port_range_min=80, port_range_max=81,
                     remote_ip_prefix="10.1.2.3/8"))["security_group_rule"]
    assert (r["protocol"], r["port_range_min"], r["port_range_max"]) == ("tcp", 80, 81)
    assert r["remote_ip_prefix"] == "10.0.0.0/8" and r["ethertype"] == "IPv4"
    msg = await neutron.fail("POST", "/v2.0/security-group-rules", alice, 409,
                             "SecurityGroupRuleExists", json={"security_group_rule": {
                                 "security_group_id": gid, "direction": "ingress",
                                 "protocol": "tcp", "port_range_min": 80,
                                 "port_range_max": 81, "remote_ip_prefix": "10.0.0.0/8"}})
    assert r["id"] in msg
    single = (await _rule(neutron, alice, security_group_id=gid, direction="ingress",
                          protocol="6", port_range_min=22))["security_group_rule"]
    assert single["port_range_max"] == 22
    icmp = (await _rule(neutron, alice, security_group_id=gid, direction="ingress",
                        protocol="icmp", port_range_min=8, port_range_max=0))
    assert icmp["security_group_rule"]["port_range_min"] == 8
    listed = (await neutron.ok("GET", f"/v2.0/security-group-rules?security_group_id={gid}",
                               alice))["security_group_rules"]
    assert len(listed) == 5
    shown = await neutron.ok("GET", f"/v2.0/security-group-rules/{r['id']}", alice)
    assert shown["security_group_rule"]["id"] == r["id"]
    await neutron.ok("DELETE", f"/v2.0/security-group-rules/{r['id']}", alice, 204)
    await neutron.fail("GET", f"/v2.0/security-group-rules/{r['id']}", alice, 404,
                       "SecurityGroupRuleNotFound")


@pytest.mark.parametrize(("body", "typ"), [
    ({"direction": "sideways"}, "InvalidInput"),
    ({"direction": "ingress", "ethertype": "IPv5"}, "SecurityGroupRuleInvalidEtherType"),
    ({"direction": "ingress", "protocol": "banana"}, "SecurityGroupRuleInvalidProtocol"),
    ({"direction": "ingress", "protocol": "300"}, "SecurityGroupRuleInvalidProtocol"),
    ({"direction": "ingress", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
     "SecurityGroupInvalidPortRange"),
    ({"direction": "ingress", "protocol": "tcp", "port_range_min": 70000},
     "SecurityGroupInvalidPortValue"),
    ({"direction": "ingress", "protocol": "gre", "port_range_min": 1},
     "SecurityGroupInvalidProtocolForPortRange"),
    ({"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x"},
     "SecurityGroupRemoteGroupAndRemoteIpPrefix"),
    ({"direction": "ingress", "remote_ip_prefix": "fd00::/8"},
     "SecurityGroupRuleParameterConflict"),
    ({"direction": "ingress", "remote_ip_prefix": "nope"}, "InvalidInput"),
    ({"direction": "ingress", "color": "red"}, "HTTPBadRequest"),
])
async def test_invalid_rules(neutron: Neutron, alice: Tenant, body: dict, typ: str) -> None:
    gid = (await _group(neutron, alice))["id"]
    await neutron.fail("POST", "/v2.0/security-group-rules", alice, 400, typ,
                       json={"security_group_rule": {"security_group_id": gid, **body}})


async def test_racing_identical_rules_make_one_rule(neutron: Neutron, alice: Tenant) -> None:
    """Twenty clients create the same rule at once: one 201, nineteen SecurityGroupRuleExists
    naming the winner, one rule stored; deleting it frees the rule to be made again."""
    gid = (await _group(neutron, alice))["id"]
    body = {"security_group_rule": {"security_group_id": gid, "direction": "ingress",
                                    "protocol": "tcp", "port_range_min": 443,
                                    "port_range_max": 443}}
    rs = await asyncio.gather(*(neutron.call("POST", "/v2.0/security-group-rules", alice,
                                             json=body) for _ in range(20)))
    codes = sorted(r.status_code for r in rs)
    assert codes == [201] + [409] * 19, [r.text for r in rs]
    winner = next(r for r in rs if r.status_code == 201).json()["security_group_rule"]["id"]
    for r in rs:
        if r.status_code == 409:
            err = r.json()["NeutronError"]
            assert err["type"] == "SecurityGroupRuleExists" and winner in err["message"]
    stored = await neutron.objects.list(nm.SECURITY_GROUP_RULE, alice.project_id,
                                        label_selector=f"{nm.SG_LABEL}={gid}")
    assert [r["metadata"]["name"] for r in stored.items
            if r["spec"].get("portRangeMin") == 443] == [winner]
    await neutron.ok("DELETE", f"/v2.0/security-group-rules/{winner}", alice, 204)
    again = (await _rule(neutron, alice, **body["security_group_rule"]))["security_group_rule"]
    assert again["id"] != winner
