"""The catalog API: kumo's own services are read-only, others are stored; credentials,
EC2 credentials and project tags keep Keystone's rules."""

from __future__ import annotations

import hashlib
import json

from .conftest import Keystone, login, make_project, make_user


async def test_services_endpoints_regions_crud(keystone: Keystone) -> None:
    ks, h = keystone.client, keystone.headers
    builtin = (await ks.get("/v3/services", headers=h)).json()["services"]
    ident = next(s for s in builtin if s["type"] == "identity")
    assert (await ks.patch(f"/v3/services/{ident['id']}", headers=h,
                           json={"service": {"enabled": False}})).status_code == 403
    r = await ks.post("/v3/services", headers=h, json={"service": {"type": "metering"}})
    assert r.status_code == 201, r.text
    sid = r.json()["service"]["id"]
    r = await ks.post("/v3/endpoints", headers=h, json={"endpoint": {
        "service_id": sid, "interface": "public", "url": "http://m/", "region": "r-two"}})
    assert r.status_code == 201, r.text
    eid = r.json()["endpoint"]["id"]
    assert (await ks.get("/v3/regions/r-two", headers=h)).status_code == 200  # auto-made
    r = await ks.post("/v3/endpoints", headers=h, json={"endpoint": {
        "service_id": sid, "interface": "public", "url": "http://m/", "enabled": "False"}})
    assert r.status_code == 400
    listed = (await ks.get("/v3/endpoints", headers=h, params={"service_id": sid})).json()
    assert [e["id"] for e in listed["endpoints"]] == [eid]
    r = await ks.patch(f"/v3/services/{sid}", headers=h, json={"service": {"name": "m2"}})
    assert r.json()["service"]["name"] == "m2"
    r = await ks.put("/v3/regions/child", headers=h, json={"region": {
        "parent_region_id": "r-two"}})
    assert r.status_code == 201, r.text
    assert (await ks.delete("/v3/regions/r-two", headers=h)).status_code == 403  # has child
    assert (await ks.delete(f"/v3/services/{sid}", headers=h)).status_code == 204
    assert (await ks.get(f"/v3/endpoints/{eid}", headers=h)).status_code == 404  # cascaded


async def test_credentials_are_their_owners(keystone: Keystone) -> None:
    ks, h = keystone.client, keystone.headers
    pid = await make_project(keystone, "cp")
    uid = await make_user(keystone, "cora", "pw-cora", {pid: ("member",)})
    await make_user(keystone, "eve", "pw-eve", {pid: ("member",)})
    cora = {"X-Auth-Token": (await login(ks, "cora", "pw-cora", pid)).headers["X-Subject-Token"]}
    eve = {"X-Auth-Token": (await login(ks, "eve", "pw-eve", pid)).headers["X-Subject-Token"]}
    blob = json.dumps({"access": "AK1", "secret": "S1"})
    r = await ks.post("/v3/credentials", headers=cora, json={"credential": {
        "user_id": uid, "project_id": pid, "type": "ec2", "blob": blob}})
    assert r.status_code == 201, r.text
    cid = r.json()["credential"]["id"]
    assert cid == hashlib.sha256(b"AK1").hexdigest()
    assert (await ks.get(f"/v3/credentials/{cid}", headers=eve)).status_code == 404
    assert (await ks.get("/v3/credentials", headers=eve)).json()["credentials"] == []
    assert (await ks.get(f"/v3/credentials/{cid}", headers=h)).status_code == 200
    r = await ks.post(f"/v3/users/{uid}/credentials/OS-EC2", headers=cora,
                      json={"tenant_id": pid})
    assert r.status_code == 201, r.text
    ec2 = r.json()["credential"]
    assert ec2["user_id"] == uid and ec2["tenant_id"] == pid and ec2["secret"]
    r = await ks.get(f"/v3/users/{uid}/credentials/OS-EC2/{ec2['access']}", headers=cora)
    assert r.json()["credential"]["secret"] == ec2["secret"]
    assert (await ks.get(f"/v3/users/{uid}/credentials/OS-EC2", headers=eve)
            ).status_code == 403
    assert (await ks.delete(f"/v3/users/{uid}/credentials/OS-EC2/{ec2['access']}",
                            headers=cora)).status_code == 204


async def test_project_tags(keystone: Keystone) -> None:
    ks, h = keystone.client, keystone.headers
    pid = await make_project(keystone, "tagged")
    assert (await ks.put(f"/v3/projects/{pid}/tags/blue", headers=h)).status_code == 201
    assert (await ks.get(f"/v3/projects/{pid}/tags/blue", headers=h)).status_code == 204
    assert (await ks.get(f"/v3/projects/{pid}/tags/red", headers=h)).status_code == 404
    r = await ks.put(f"/v3/projects/{pid}/tags", headers=h, json={"tags": ["a", "b"]})
    assert r.json()["tags"] == ["a", "b"]
    assert (await ks.put(f"/v3/projects/{pid}/tags", headers=h, json={"tags": ["a/b"]})
            ).status_code == 400
    assert (await ks.delete(f"/v3/projects/{pid}/tags", headers=h)).status_code == 204
    assert (await ks.get(f"/v3/projects/{pid}/tags", headers=h)).json()["tags"] == []


async def test_endpoint_groups_narrow_a_projects_catalog(keystone: Keystone) -> None:
    ks, h = keystone.client, keystone.headers
    pid = await make_project(keystone, "narrow")
    await make_user(keystone, "nina", "pw-nina", {pid: ("member",)})
    r = await ks.post("/v3/services", headers=h, json={"service": {"type": "extra"}})
    sid = r.json()["service"]["id"]
    await ks.post("/v3/endpoints", headers=h, json={"endpoint": {
        "service_id": sid, "interface": "public", "url": "http://extra/"}})
    full = (await login(ks, "nina", "pw-nina", pid)).json()["token"]["catalog"]
    assert "extra" in {s["type"] for s in full} and "identity" in {s["type"] for s in full}
    r = await ks.post("/v3/OS-EP-FILTER/endpoint_groups", headers=h, json={"endpoint_group": {
        "name": "only-extra", "filters": {"service_id": sid}}})
    assert r.status_code == 201, r.text
    gid = r.json()["endpoint_group"]["id"]
    eps = (await ks.get(f"/v3/OS-EP-FILTER/endpoint_groups/{gid}/endpoints", headers=h)
           ).json()["endpoints"]
    assert [e["url"] for e in eps] == ["http://extra/"]
    assert (await ks.put(f"/v3/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}",
                         headers=h)).status_code == 204
    narrow = (await login(ks, "nina", "pw-nina", pid)).json()["token"]["catalog"]
    assert [s["type"] for s in narrow] == ["extra"]
    assert (await ks.delete(f"/v3/OS-EP-FILTER/endpoint_groups/{gid}", headers=h)
            ).status_code == 204
    again = (await login(ks, "nina", "pw-nina", pid)).json()["token"]["catalog"]
    assert len(again) == len(full)


async def test_project_acting_as_domain(keystone: Keystone) -> None:
    ks, h = keystone.client, keystone.headers
    r = await ks.post("/v3/projects", headers=h, json={"project": {
        "name": "acme", "is_domain": True}})
    assert r.status_code == 201, r.text
    did = r.json()["project"]["id"]
    assert r.json()["project"]["is_domain"] is True
    assert did in [d["id"] for d in (await ks.get("/v3/domains", headers=h)).json()["domains"]]
    listed = (await ks.get("/v3/projects", headers=h, params={"is_domain": "true"})).json()
    assert did in [p["id"] for p in listed["projects"]]
    plain = (await ks.get("/v3/projects", headers=h)).json()["projects"]
    assert did not in [p["id"] for p in plain]
    r = await ks.post("/v3/projects", headers=h, json={"project": {
        "name": "in-acme", "domain_id": did}})
    assert r.status_code == 201 and r.json()["project"]["domain_id"] == did
    assert (await ks.delete(f"/v3/projects/{did}", headers=h)).status_code == 403  # enabled
    r = await ks.patch(f"/v3/projects/{did}", headers=h, json={"project": {"enabled": False}})
    assert r.status_code == 200 and r.json()["project"]["enabled"] is False
    assert (await ks.delete(f"/v3/projects/{did}", headers=h)).status_code == 204
    assert (await ks.get(f"/v3/domains/{did}", headers=h)).status_code == 404
