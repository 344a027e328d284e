"""Glance v2 images: discovery, create/show/delete, validation, policy, errors, schemas."""

from __future__ import annotations

import uuid

from .conftest import Glance


async def test_version_discovery(glance: Glance) -> None:
    r = await glance.request("GET", "/", None)
    assert r.status_code == 300
    versions = r.json()["versions"]
    current = [v for v in versions if v["status"] == "CURRENT"]
    assert len(current) == 1 and current[0]["id"].startswith("v2.")
    assert current[0]["links"][0]["href"] == "http://kumo/image/v2/"
    r = await glance.request("GET", "/versions", None)
    assert r.status_code == 200 and r.json()["versions"] == versions


async def test_unauthenticated_is_401_in_glance_format(glance: Glance) -> None:
    r = await glance.request("GET", "/v2/images", None)
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "401 Unauthorized" and body["title"] == "Unauthorized"
    assert "authentication" in body["message"]
    r = await glance.request("GET", "/v2/images", "not-a-token")
    assert r.status_code == 401


async def test_create_show_delete(glance: Glance, member) -> None:
    pid, tok = member
    img = await glance.create(tok, name="cirros", min_ram=64, min_disk=1, tags=["a", "b", "a"],
                              os_distro="cirros", hw_disk_bus="virtio")
    assert img["status"] == "queued" and img["owner"] == pid
    assert img["visibility"] == "shared" and img["protected"] is False
    assert img["os_hidden"] is False and img["tags"] == ["a", "b"]
    assert img["os_distro"] == "cirros" and img["hw_disk_bus"] == "virtio"
    assert img["size"] is None and img["checksum"] is None and img["os_hash_value"] is None
    assert img["self"] == f"/v2/images/{img['id']}" and img["file"].endswith("/file")
    assert img["schema"] == "/v2/schemas/image"
    assert img["created_at"].endswith("Z") and len(img["created_at"]) == 20
    assert await glance.show(tok, img["id"]) == img
    r = await glance.request("DELETE", f"/v2/images/{img['id']}", tok)
    assert r.status_code == 204
    r = await glance.request("GET", f"/v2/images/{img['id']}", tok)
    assert r.status_code == 404 and r.json()["code"] == "404 Not Found"
    r = await glance.request("DELETE", f"/v2/images/{img['id']}", tok)
    assert r.status_code == 404


async def test_create_with_given_id_and_location(glance: Glance, member) -> None:
    _, tok = member
    iid = str(uuid.uuid4())
    r = await glance.request("POST", "/v2/images", tok, json={"id": iid, "name": "x"})
    assert r.status_code == 201 and r.json()["id"] == iid
    assert r.headers["location"] == f"http://kumo/image/v2/images/{iid}"
    r = await glance.request("POST", "/v2/images", tok, json={"id": iid, "name": "again"})
    assert r.status_code == 409
    r = await glance.request("POST", "/v2/images", tok, json={"id": "not-a-uuid"})
    assert r.status_code == 400


async def test_create_rejects_bad_input(glance: Glance, member) -> None:
    _, tok = member
    cases = [
        ({"disk_format": "floppy"}, 400), ({"container_format": "zip"}, 400),
        ({"visibility": "everyone"}, 400), ({"min_ram": -1}, 400), ({"min_disk": "1"}, 400),
        ({"protected": "yes"}, 400), ({"tags": "a,b"}, 400), ({"name": "n" * 256}, 400),
        ({"my_prop": 5}, 400), ({"kernel_id": "vmlinuz"}, 400),
        ({"status": "active"}, 403), ({"checksum": "0" * 32}, 403), ({"size": 1}, 403),
        ({"self": "/x"}, 403), ({"location": "file:///etc"}, 403),
        ({"os_glance_import_task": "x"}, 403),
    ]
    for body, status in cases:
        r = await glance.request("POST", "/v2/images", tok, json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["title"] in ("Bad Request", "Forbidden")
    for raw in (b"{not json", b"[1, 2]", b""):
        r = await glance.request("POST", "/v2/images", tok, content=raw,
                                 headers={"Content-Type": "application/json"})
        assert r.status_code == 400, raw


async def test_all_formats_and_kernel_ramdisk(glance: Glance, member) -> None:
    _, tok = member
    for fmt in ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop"):
        await glance.create(tok, name=fmt, disk_format=fmt)
    for fmt in ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"):
        await glance.create(tok, name=fmt, container_format=fmt)
    kernel = await glance.create(tok, name="k", disk_format="aki", container_format="aki")
    ramdisk = await glance.create(tok, name="r", disk_format="ari", container_format="ari")
    ami = await glance.create(tok, name="m", disk_format="ami", container_format="ami",
                              kernel_id=kernel["id"], ramdisk_id=ramdisk["id"])
    assert (ami["kernel_id"], ami["ramdisk_id"]) == (kernel["id"], ramdisk["id"])
    obj = await glance.rt.objects.get("Image", "", ami["id"])
    assert obj["spec"]["properties"]["kernel_id"] == kernel["id"]
    assert obj["spec"]["diskFormat"] == "ami"


async def test_roles_and_project_isolation(glance: Glance, member) -> None:
    pid, tok = member
    reader = await glance.token(pid, "reader")
    other = await glance.token(await glance.project("beta"))
    admin = await glance.admin_token()
    r = await glance.request("POST", "/v2/images", reader, json={"name": "no"})
    assert r.status_code == 403
    img = await glance.create(tok, name="private", visibility="private")
    assert (await glance.show(reader, img["id"]))["name"] == "private"
    r = await glance.request("DELETE", f"/v2/images/{img['id']}", reader)
    assert r.status_code == 403
    for method in ("GET", "DELETE"):
        r = await glance.request(method, f"/v2/images/{img['id']}", other)
        assert r.status_code == 404
    r = await glance.patch(other, img["id"], [{"op": "replace", "path": "/name", "value": "x"}])
    assert r.status_code == 404
    assert (await glance.show(admin, img["id"]))["owner"] == pid


async def test_publicize_is_admin_only(glance: Glance, member) -> None:
    pid, tok = member
    other = await glance.token(await glance.project("beta"))
    admin = await glance.admin_token()
    r = await glance.request("POST", "/v2/images", tok, json={"visibility": "public"})
    assert r.status_code == 403 and "publicize_image" in r.json()["message"]
    community = await glance.create(tok, name="c", visibility="community")
    assert (await glance.show(other, community["id"]))["visibility"] == "community"
    public = await glance.create(admin, name="pub", visibility="public")
    assert (await glance.show(other, public["id"]))["name"] == "pub"
    r = await glance.request("DELETE", f"/v2/images/{public['id']}", other)
    assert r.status_code == 403
    r = await glance.request("POST", "/v2/images", tok, json={"owner": "someone-else"})
    assert r.status_code == 403
    owned = await glance.create(admin, name="for-alpha", owner=pid)
    assert (await glance.show(tok, owned["id"]))["owner"] == pid


async def test_protected_image_cannot_be_deleted(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="keep", protected=True)
    r = await glance.request("DELETE", f"/v2/images/{img['id']}", tok)
    assert r.status_code == 403 and "protected" in r.json()["message"]
    r = await glance.patch(tok, img["id"], [{"op": "replace", "path": "/protected",
                                             "value": False}])
    assert r.status_code == 200
    r = await glance.request("DELETE", f"/v2/images/{img['id']}", tok)
    assert r.status_code == 204


async def test_tags(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="t")
    for tag in ("x86", "fast", "x86"):
        r = await glance.request("PUT", f"/v2/images/{img['id']}/tags/{tag}", tok)
        assert r.status_code == 204
    assert (await glance.show(tok, img["id"]))["tags"] == ["x86", "fast"]
    r = await glance.request("DELETE", f"/v2/images/{img['id']}/tags/x86", tok)
    assert r.status_code == 204
    r = await glance.request("DELETE", f"/v2/images/{img['id']}/tags/x86", tok)
    assert r.status_code == 404
    assert (await glance.show(tok, img["id"]))["tags"] == ["fast"]
    reader = await glance.token(img["owner"], "reader")
    r = await glance.request("PUT", f"/v2/images/{img['id']}/tags/nope", reader)
    assert r.status_code == 403


async def test_schemas_and_info(glance: Glance, member) -> None:
    _, tok = member
    r = await glance.request("GET", "/v2/schemas/image", tok)
    s = r.json()
    assert s["name"] == "image" and s["additionalProperties"] == {"type": "string"}
    assert "qcow2" in s["properties"]["disk_format"]["enum"]
    assert None in s["properties"]["container_format"]["enum"]
    assert s["properties"]["status"]["readOnly"] is True
    images = (await glance.request("GET", "/v2/schemas/images", tok)).json()
    assert images["properties"]["images"]["items"]["name"] == "image"
    member_s = (await glance.request("GET", "/v2/schemas/member", tok)).json()
    assert member_s["properties"]["status"]["enum"] == ["pending", "accepted", "rejected"]
    members = (await glance.request("GET", "/v2/schemas/members", tok)).json()
    assert members["properties"]["members"]["items"]["name"] == "member"
    assert (await glance.request("GET", "/v2/schemas/nope", tok)).status_code == 404
    r = await glance.request("GET", "/v2/info/import", tok)
    assert r.json()["import-methods"]["value"] == ["glance-direct", "web-download"]
    r = await glance.request("GET", "/v2/info/stores", tok)
    assert r.json()["stores"][0]["default"] is True


async def test_unknown_route_and_method(glance: Glance, member) -> None:
    _, tok = member
    r = await glance.request("GET", "/v2/nothing", tok)
    assert r.status_code == 404 and r.json()["code"] == "404 Not Found"
    r = await glance.request("POST", "/v2/images/x/file", tok)
    assert r.status_code == 405


async def test_request_id_header(glance: Glance, member) -> None:
    _, tok = member
    r = await glance.request("GET", "/v2/images", tok)
    assert r.headers["x-openstack-request-id"].startswith("req-")
