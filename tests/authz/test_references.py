"""Fields only admins or kumo write, and references across projects, checked where
they are resolved (the matrix calls each route once; these look at what is stored)."""

from __future__ import annotations

from typing import Any

from kumo.model import network as nm
from tests.compute.conftest import Tenant

from .seed import build


async def _two(cloud) -> tuple[Any, Tenant, Tenant, Tenant]:  # noqa: ANN001
    seed = await build(cloud)
    other = seed.who["other_member"]
    assert other is not None
    return seed, seed.owner, other, seed.admin


async def test_members_never_choose_segments_or_bindings(cloud) -> None:  # noqa: ANN001
    seed, owner, _, _ = await _two(cloud)
    r = await cloud.net("POST", "/v2.0/networks", owner, json={"network": {
        "name": "x", "provider:segmentation_id": 4000, "provider:network_type": "vxlan"}})
    assert r.status_code == 403, r.text
    assert await cloud.objects.try_get(nm.SEGMENT_ALLOCATION, "", "vni.4000") is None
    net = seed.ids["network"]
    r = await cloud.net("PUT", f"/v2.0/networks/{net}", owner, json={"network": {
        "provider:segmentation_id": 4001}})
    assert r.status_code == 403, r.text
    r = await cloud.net("POST", "/v2.0/ports", owner, json={"port": {
        "network_id": net, "binding:host_id": "node1"}})
    assert r.status_code == 403, r.text
    port = seed.ids["port"]
    r = await cloud.net("PUT", f"/v2.0/ports/{port}", owner, json={"port": {
        "binding:host_id": "node1"}})
    assert r.status_code == 403, r.text
    stored = await cloud.objects.get(nm.PORT, owner.project_id, port)
    assert not stored["spec"].get("bindingHostId")


async def test_no_port_on_another_projects_private_network(cloud) -> None:  # noqa: ANN001
    seed, owner, other, _ = await _two(cloud)
    before = len((await cloud.objects.list(nm.IP_ALLOCATION, None)).items)
    r = await cloud.net("POST", "/v2.0/ports", other, json={"port": {
        "network_id": seed.ids["network"]}})
    assert r.status_code == 404, r.text
    r = await cloud.net("POST", "/v2.0/ports", other, json={"port": {
        "network_id": seed.ids["network"], "project_id": other.project_id,
        "fixed_ips": [{"subnet_id": seed.ids["subnet"]}]}})
    assert r.status_code == 404, r.text
    assert len((await cloud.objects.list(nm.IP_ALLOCATION, None)).items) == before
    assert not (await cloud.objects.list(nm.PORT, other.project_id)).items


async def test_a_shared_network_lends_no_address_choice(cloud) -> None:  # noqa: ANN001
    seed, owner, other, admin = await _two(cloud)
    net = (await cloud.net_ok("POST", "/v2.0/networks", admin, 201, json={"network": {
        "name": "shared", "shared": True, "project_id": owner.project_id}}))["network"]["id"]
    sub = (await cloud.net_ok("POST", "/v2.0/subnets", admin, 201, json={"subnet": {
        "network_id": net, "cidr": "10.77.0.0/24", "ip_version": 4,
        "project_id": owner.project_id}}))["subnet"]["id"]
    r = await cloud.net("POST", "/v2.0/ports", other, json={"port": {
        "network_id": net, "fixed_ips": [{"subnet_id": sub, "ip_address": "10.77.0.9"}]}})
    assert r.status_code == 403, r.text
    ok = await cloud.net_ok("POST", "/v2.0/ports", other, 201, json={"port": {
        "network_id": net}})
    assert ok["port"]["project_id"] == other.project_id


async def test_no_server_on_another_projects_port_or_network(cloud) -> None:  # noqa: ANN001
    seed, owner, other, _ = await _two(cloud)
    image = seed.ids["public_image"]
    for networks in ([{"port": seed.ids["port"]}], [{"uuid": seed.ids["network"]}]):
        r = await cloud.call("POST", "/v2.1/servers", other, json={"server": {
            "name": "x", "imageRef": image, "flavorRef": "42", "networks": networks}})
        assert r.status_code in (400, 404), r.text
    assert not (await cloud.objects.list("Server", other.project_id)).items
    port = await cloud.objects.get(nm.PORT, owner.project_id, seed.ids["port"])
    assert not port["spec"].get("deviceId")


async def test_no_interface_from_another_projects_port(cloud) -> None:  # noqa: ANN001
    seed, owner, other, _ = await _two(cloud)
    theirs = await cloud.net_ok("POST", "/v2.0/networks", other, 201,
                                json={"network": {"name": "b"}})
    await cloud.net_ok("POST", "/v2.0/subnets", other, 201, json={"subnet": {
        "network_id": theirs["network"]["id"], "cidr": "10.88.0.0/24", "ip_version": 4}})
    port = (await cloud.net_ok("POST", "/v2.0/ports", other, 201, json={"port": {
        "network_id": theirs["network"]["id"]}}))["port"]["id"]
    r = await cloud.call("POST", f"/v2.1/servers/{seed.ids['server']}/os-interface", owner,
                         json={"interfaceAttachment": {"port_id": port}})
    assert r.status_code in (400, 404), r.text
    stored = await cloud.objects.get(nm.PORT, other.project_id, port)
    assert not stored["spec"].get("deviceId")


async def test_no_rule_or_port_naming_another_projects_group(cloud) -> None:  # noqa: ANN001
    seed, owner, other, _ = await _two(cloud)
    mine = (await cloud.net_ok("POST", "/v2.0/security-groups", other, 201, json={
        "security_group": {"name": "b"}}))["security_group"]["id"]
    r = await cloud.net("POST", "/v2.0/security-group-rules", other, json={
        "security_group_rule": {"security_group_id": mine, "direction": "ingress",
                                "remote_group_id": seed.ids["secgroup"]}})
    assert r.status_code == 404, r.text
    theirs = await cloud.net_ok("POST", "/v2.0/networks", other, 201,
                                json={"network": {"name": "b"}})
    r = await cloud.net("POST", "/v2.0/ports", other, json={"port": {
        "network_id": theirs["network"]["id"], "security_groups": [seed.ids["secgroup"]]}})
    assert r.status_code == 404, r.text


async def test_members_never_write_quotas(cloud) -> None:  # noqa: ANN001
    seed, owner, _, _ = await _two(cloud)
    pid = owner.project_id
    r = await cloud.call("PUT", f"/v2.1/os-quota-sets/{pid}", owner,
                         json={"quota_set": {"instances": 1000}})
    assert r.status_code == 403
    r = await cloud.net("PUT", f"/v2.0/quotas/{pid}", owner, json={"quota": {"port": 1000}})
    assert r.status_code == 403
    native = f"/apis/kumo.io/v1/namespaces/{pid}"
    for plural, name in (("quotasets", "compute"), ("quotausages", "network")):
        r = await cloud.client.patch(f"{native}/{plural}/{name}", json={"spec": {"x": 1}},
                                     headers={"X-Auth-Token": owner.token,
                                              "Content-Type": "application/merge-patch+json"})
        assert r.status_code == 403, r.text
    qs = await cloud.objects.get("QuotaSet", pid, "compute")
    assert qs["spec"]["instances"] == -1 and "x" not in qs["spec"]


async def test_an_allocation_record_named_unlike_a_claim_is_refused(cloud) -> None:  # noqa: ANN001
    """Before: an admin's native SegmentAllocation named "x" made every network create 500."""
    seed, owner, _, admin = await _two(cloud)
    native = "/apis/kumo.io/v1"
    spec = {"networkId": seed.ids["network"], "project": owner.project_id}
    for plural, kind, name in (("segmentallocations", "SegmentAllocation", "x"),
                               ("ipallocations", "IPAllocation", "x.y"),
                               ("macallocations", "MacAllocation", "m")):
        samples = (await cloud.objects.list(kind, None)).items
        body = {"kind": kind, "metadata": {"name": name},
                "spec": samples[0]["spec"] if samples else spec}
        r = await cloud.client.post(f"{native}/{plural}", headers={"X-Auth-Token": admin.token},
                                    json=body)
        assert r.status_code == 422, r.text
        assert "claim name" in r.json()["message"]
    r = await cloud.client.post(f"{native}/segmentallocations",
                                headers={"X-Auth-Token": admin.token},
                                json={"kind": "SegmentAllocation",
                                      "metadata": {"name": "vxlan.4242"}, "spec": spec})
    assert r.status_code == 201, r.text
    await cloud.net_ok("POST", "/v2.0/networks", owner, 201, json={"network": {"name": "ok"}})
