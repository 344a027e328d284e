"""Interoperable import: glance-direct stages then activates; web-download is refused as
Glance's import filter refuses a URI; an unknown method or store is a 400."""

from __future__ import annotations

from .conftest import OCTET, Glance, digests


async def test_glance_direct_stage_then_import(glance: Glance, member) -> None:
    _, tok = member
    methods = (await glance.request("GET", "/v2/info/import", tok)).json()
    assert "glance-direct" in methods["import-methods"]["value"]
    img = await glance.create(tok, name="staged")
    iid = img["id"]
    r = await glance.request("POST", f"/v2/images/{iid}/import", tok,
                             json={"method": {"name": "glance-direct"}})
    assert r.status_code == 409  # nothing staged yet
    data = b"kumo" * 1000
    r = await glance.request("PUT", f"/v2/images/{iid}/stage", tok, content=data,
                             headers=OCTET)
    assert r.status_code == 204, r.text
    shown = await glance.show(tok, iid)
    assert shown["status"] == "uploading" and "stores" not in shown
    assert (await glance.request("GET", f"/v2/images/{iid}/file", tok)).status_code == 204
    r = await glance.request("POST", f"/v2/images/{iid}/import", tok, json={
        "method": {"name": "glance-direct"}, "stores": ["nowhere"]})
    assert r.status_code == 400
    r = await glance.request("POST", f"/v2/images/{iid}/import", tok,
                             json={"method": {"name": "glance-direct"}})
    assert r.status_code == 202, r.text
    shown = await glance.show(tok, iid)
    assert shown["status"] == "active" and shown["stores"] == "local"
    assert shown["checksum"] == digests(data)["md5"]
    got = await glance.request("GET", f"/v2/images/{iid}/file", tok)
    assert got.content == data
    r = await glance.request("POST", f"/v2/images/{iid}/import", tok,
                             json={"method": {"name": "glance-direct"}})
    assert r.status_code == 409  # already active


async def test_web_download_and_unknown_methods_refused(glance: Glance, member) -> None:
    _, tok = member
    iid = (await glance.create(tok, name="web"))["id"]
    r = await glance.request("POST", f"/v2/images/{iid}/import", tok, json={
        "method": {"name": "web-download", "uri": "http://does-not.exist/x"}})
    assert r.status_code == 400 and "does not pass filtering" in r.text
    assert (await glance.show(tok, iid))["status"] == "queued"
    r = await glance.request("POST", f"/v2/images/{iid}/import", tok,
                             json={"method": {"name": "copy-image"}})
    assert r.status_code == 400 and "not valid for this cloud" in r.text


async def test_tasks_admin_only_and_import_from_refused(glance: Glance, member) -> None:
    _, tok = member
    admin = await glance.admin_token()
    assert (await glance.request("GET", "/v2/tasks", tok)).status_code == 403
    assert (await glance.request("GET", "/v2/tasks", admin)).json()["tasks"] == []
    r = await glance.request("POST", "/v2/tasks", admin, json={"type": "import", "input": {
        "import_from": "http://fake.example/x.qcow2", "import_from_format": "qcow2",
        "image_properties": {"disk_format": "qcow2", "container_format": "bare"}}})
    assert r.status_code == 400 and "does not pass filtering" in r.text
    assert (await glance.request("GET", "/v2/tasks/abc", admin)).status_code == 404
