"""Every stored kind has a typed model, and what the faces write reads back through it."""

from __future__ import annotations

import pytest

from kumo.model import registry
from kumo.model.base import model_for
from kumo.model.objects.network import Port

NEUTRON = "/network/v2.0"
NATIVE = "/apis/kumo.io/v1"


def test_every_registered_kind_has_a_typed_model() -> None:
    missing = [k.kind for k in registry.all_kinds() if model_for(k.kind) is None]
    assert not missing, f"kinds without a typed model: {missing}"


async def _populate(api) -> tuple[str, str]:
    """Drive the faces the way a tenant and an admin do, so every kind gets written."""
    admin = {"X-Auth-Token": await api.admin_token()}
    pid = await api.project("typed")
    member = {"X-Auth-Token": await api.token(pid)}
    c = api.client
    net = (await c.post(f"{NEUTRON}/networks", json={"network": {"name": "n"}},
                        headers=member)).json()["network"]
    sub = await c.post(f"{NEUTRON}/subnets", headers=member, json={"subnet": {
        "network_id": net["id"], "cidr": "10.9.0.0/24", "ip_version": 4}})
    assert sub.status_code == 201, sub.text
    port = await c.post(f"{NEUTRON}/ports", headers=member,
                        json={"port": {"network_id": net["id"], "name": "p"}})
    assert port.status_code == 201, port.text
    sg = (await c.post(f"{NEUTRON}/security-groups", headers=member,
                       json={"security_group": {"name": "web"}})).json()["security_group"]
    rule = await c.post(f"{NEUTRON}/security-group-rules", headers=member, json={
        "security_group_rule": {"security_group_id": sg["id"], "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 80,
                                "port_range_max": 80}})
    assert rule.status_code == 201, rule.text
    img = await c.post("/image/v2/images", headers=admin,
                       json={"name": "i", "disk_format": "qcow2", "container_format": "bare"})
    assert img.status_code == 201, img.text
    flv = await c.post("/compute/v2.1/flavors", headers=admin, json={
        "flavor": {"name": "f1", "ram": 64, "vcpus": 1, "disk": 1}})
    assert flv.status_code == 200, flv.text
    quota = await c.put(f"/compute/v2.1/os-quota-sets/{pid}", headers=admin,
                        json={"quota_set": {"instances": 7}})
    assert quota.status_code == 200, quota.text
    cm = await c.post(f"{NATIVE}/namespaces/{pid}/configmaps", headers=member, json={
        "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}})
    assert cm.status_code == 201, cm.text
    return pid, port.json()["port"]["id"]


async def test_everything_the_faces_store_parses_as_its_kind(api) -> None:
    pid, port_id = await _populate(api)
    seen: dict[str, int] = {}
    for info in registry.all_kinds():
        model = model_for(info.kind)
        for raw in (await api.rt.objects.list(info.kind, None)).items:
            model.model_validate(raw)
            seen[info.kind] = seen.get(info.kind, 0) + 1
    for kind in ("Network", "Subnet", "Port", "SecurityGroup", "SecurityGroupRule",
                 "IPAllocation", "MacAllocation", "SegmentAllocation", "Image", "Flavor",
                 "QuotaSet", "ConfigMap", "Project", "User", "Role", "RoleAssignment", "Domain"):
        assert seen.get(kind), f"no {kind} was written, so none was checked"
    port = Port.from_obj(await api.rt.objects.get("Port", pid, port_id))
    assert port.spec.fixed_ips and port.spec.fixed_ips[0].ip_address.startswith("10.9.0.")
    assert port.to_obj()["spec"]["fixedIps"][0]["subnetId"] == port.spec.fixed_ips[0].subnet_id


@pytest.mark.parametrize("spec", [
    {"fixedIps": "10.0.0.5"},
    {"fixedIps": [{"subnetId": "s"}]},
    {"adminStateUp": {"nested": True}},
])
async def test_an_admin_native_write_that_would_not_read_back_is_refused(api, spec) -> None:
    admin = {"X-Auth-Token": await api.admin_token()}
    pid = await api.project("bad")
    r = await api.client.post(f"{NATIVE}/namespaces/{pid}/ports", headers=admin, json={
        "kind": "Port", "metadata": {"name": "p-bad"}, "spec": spec})
    assert r.status_code in (400, 422), r.text
    assert r.json()["kind"] == "Status"
    assert await api.rt.objects.try_get("Port", pid, "p-bad") is None
