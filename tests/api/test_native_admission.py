"""The native door admits what the OpenStack faces admit, nothing more (core/admission.py)."""

from __future__ import annotations

import pytest

BASE = "/apis/kumo.io/v1"
MERGE = {"Content-Type": "application/merge-patch+json"}


def obj(kind: str, name: str, spec: dict | None = None) -> dict:
    return {"kind": kind, "metadata": {"name": name}, "spec": spec or {}}


# a member's writes that only the domain operations behind an OpenStack API may make
FORBIDDEN_CREATES = [
    ("quotasets", obj("QuotaSet", "compute", {"instances": 10**6})),
    ("ports", obj("Port", "p1", {"networkId": "x", "macAddress": "fa:16:3e:00:00:01",
                                 "fixedIps": [{"subnetId": "s", "ipAddress": "10.0.0.5"}]})),
    ("networks", obj("Network", "n1", {"segmentationId": 4242})),
    ("servers", obj("Server", "s1", {"flavor": {"vcpus": 64}})),
    ("instanceactions", obj("InstanceAction", "req-forged", {"action": "create"})),
    ("events", {"kind": "Event", "metadata": {"name": "e1"}, "reason": "Forged"}),
]


@pytest.mark.parametrize("plural,body", FORBIDDEN_CREATES, ids=[p for p, _ in FORBIDDEN_CREATES])
async def test_members_cannot_write_domain_kinds_natively(api, plural: str, body: dict) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    r = await api.client.post(f"{BASE}/namespaces/{p}/{plural}", json=body, headers=h)
    assert r.status_code == 403, r.text
    assert r.json()["kind"] == "Status" and "OpenStack API" in r.json()["message"]
    listed = await api.client.get(f"{BASE}/namespaces/{p}/{plural}", headers=h)
    assert listed.status_code == 200 and listed.json()["items"] == []


async def test_members_cannot_touch_status_finalizers_or_spec_of_a_server(api) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    await api.rt.objects.create({"kind": "Server", "metadata": {
        "name": "s1", "namespace": p, "finalizers": ["kumo.io/compute-agent"]},
        "spec": {"flavor": {"vcpus": 1}}, "status": {"vmState": "active"}})
    url = f"{BASE}/namespaces/{p}/servers/s1"
    for path, patch in ((url + "/status", {"status": {"vmState": "error"}}),
                        (url, {"metadata": {"finalizers": None}}),
                        (url, {"spec": {"flavor": {"vcpus": 64}}})):
        r = await api.client.patch(path, json=patch, headers={**h, **MERGE})
        assert r.status_code == 403, (path, r.text)
    assert (await api.client.delete(url, headers=h)).status_code == 403
    got = (await api.client.get(url, headers=h)).json()
    assert got["status"]["vmState"] == "active" and got["spec"]["flavor"]["vcpus"] == 1
    assert got["metadata"]["finalizers"] == ["kumo.io/compute-agent"]


async def test_tenant_writable_kinds_and_admins_still_write(api) -> None:
    p = await api.project("a")
    member = {"X-Auth-Token": await api.token(p)}
    admin = {"X-Auth-Token": await api.admin_token()}
    r = await api.client.post(f"{BASE}/namespaces/{p}/configmaps",
                              json=obj("ConfigMap", "cm1", {"data": {"k": "v"}}), headers=member)
    assert r.status_code == 201
    r = await api.client.post(f"{BASE}/namespaces/{p}/quotasets",
                              json=obj("QuotaSet", "compute", {"instances": 20}), headers=admin)
    assert r.status_code == 201


async def test_members_cannot_set_finalizers_even_on_their_own_configmaps(api) -> None:
    """A finalizer nobody removes would pin the object forever: only controllers set them."""
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    cm = {"kind": "ConfigMap", "metadata": {"name": "c1", "finalizers": ["example.com/hold"]},
          "data": {"k": "v"}}
    r = await api.client.post(url, json=cm, headers=h)
    assert r.status_code == 403 and "finalizers" in r.json()["message"], r.text
    del cm["metadata"]["finalizers"]
    assert (await api.client.post(url, json=cm, headers=h)).status_code == 201
    r = await api.client.patch(f"{url}/c1", headers={**h, **MERGE},
                               json={"metadata": {"finalizers": ["example.com/hold"]}})
    assert r.status_code == 403, r.text
    stored = await api.rt.objects.get("ConfigMap", p, "c1")
    assert not stored["metadata"].get("finalizers")
    assert (await api.client.delete(f"{url}/c1", headers=h)).status_code == 200
    assert await api.rt.objects.try_get("ConfigMap", p, "c1") is None
