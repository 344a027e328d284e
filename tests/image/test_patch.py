"""PATCH /v2/images/{id} with Glance's JSON-patch media types."""

from __future__ import annotations

from .conftest import Glance

V20 = "application/openstack-images-v2.0-json-patch"


async def test_add_replace_remove_properties_and_core(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="p", os_distro="ubuntu")
    r = await glance.patch(tok, img["id"], [
        {"op": "add", "path": "/hw_qemu_guest_agent", "value": "yes"},
        {"op": "replace", "path": "/os_distro", "value": "debian"},
        {"op": "add", "path": "/a~1b", "value": "slash"},
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/min_ram", "value": 256},
        {"op": "replace", "path": "/tags", "value": ["t1", "t2"]},
        {"op": "replace", "path": "/os_hidden", "value": True},
        {"op": "replace", "path": "/visibility", "value": "private"},
    ])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["hw_qemu_guest_agent"] == "yes" and out["os_distro"] == "debian"
    assert out["a/b"] == "slash" and out["name"] == "renamed" and out["min_ram"] == 256
    assert out["tags"] == ["t1", "t2"] and out["os_hidden"] is True
    assert out["visibility"] == "private"
    assert out["updated_at"] >= img["updated_at"]
    r = await glance.patch(tok, img["id"], [{"op": "remove", "path": "/os_distro"}])
    assert r.status_code == 200 and "os_distro" not in r.json()
    obj = await glance.rt.objects.get("Image", "", img["id"])
    assert obj["metadata"]["labels"]["visibility"] == "private"


async def test_patch_refusals(glance: Glance, member) -> None:
    pid, tok = member
    img = await glance.create(tok, name="p", k="v")
    iid = img["id"]
    cases = [
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "replace", "path": "/checksum", "value": "x"}], 403),
        ([{"op": "add", "path": "/id", "value": "x"}], 403),
        ([{"op": "add", "path": "/deleted", "value": "x"}], 403),
        ([{"op": "add", "path": "/os_glance_x", "value": "x"}], 403),
        ([{"op": "add", "path": "/locations", "value": []}], 403),
        ([{"op": "remove", "path": "/name"}], 403),
        ([{"op": "replace", "path": "/owner", "value": "other"}], 403),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], 403),
        ([{"op": "replace", "path": "/missing", "value": "x"}], 409),
        ([{"op": "remove", "path": "/missing"}], 409),
        ([{"op": "replace", "path": "/disk_format", "value": "vfat"}], 400),
        ([{"op": "replace", "path": "/min_disk", "value": -5}], 400),
        ([{"op": "replace", "path": "/protected", "value": "true"}], 400),
        ([{"op": "add", "path": "/k2", "value": 3}], 400),
        ([{"op": "move", "path": "/k", "from": "/j"}], 400),
        ([{"op": "add", "path": "k", "value": "x"}], 400),
        ([{"op": "add", "path": "/a/b", "value": "x"}], 400),
        ([{"op": "add", "path": "/k"}], 400),
        ({"op": "add", "path": "/k", "value": "x"}, 400),
        (["add"], 400),
    ]
    for ops, status in cases:
        r = await glance.patch(tok, iid, ops)
        assert r.status_code == status, (ops, r.text)
    r = await glance.request("PATCH", f"/v2/images/{iid}", tok, content=b"[{oops",
                             headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    assert r.status_code == 400
    r = await glance.patch(tok, iid, [], content_type="application/json")
    assert r.status_code == 415 and "openstack-images-v2.1-json-patch" in r.headers["accept-patch"]
    assert (await glance.show(tok, iid))["k"] == "v"
    reader = await glance.token(pid, "reader")
    r = await glance.patch(reader, iid, [{"op": "replace", "path": "/k", "value": "w"}])
    assert r.status_code == 403


async def test_draft4_patch_format(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="d4", k="v")
    r = await glance.patch(tok, img["id"], [{"add": "/new", "value": "1"},
                                            {"replace": "/k", "value": "w"}], V20)
    assert r.status_code == 200 and r.json()["new"] == "1" and r.json()["k"] == "w"
    r = await glance.patch(tok, img["id"], [{"add": "/k", "value": "again"}], V20)
    assert r.status_code == 409
    r = await glance.patch(tok, img["id"], [{"add": "/a", "replace": "/b", "value": "x"}], V20)
    assert r.status_code == 400


async def test_admin_may_change_owner_and_publicize(glance: Glance, member) -> None:
    pid, tok = member
    admin = await glance.admin_token()
    img = await glance.create(tok, name="give")
    other = await glance.project("beta")
    r = await glance.patch(admin, img["id"], [
        {"op": "replace", "path": "/owner", "value": other},
        {"op": "replace", "path": "/visibility", "value": "public"}])
    assert r.status_code == 200
    assert r.json()["owner"] == other and r.json()["visibility"] == "public"
    r = await glance.patch(tok, img["id"], [{"op": "replace", "path": "/name", "value": "x"}])
    assert r.status_code == 403


async def test_formats_fixed_once_data_is_there(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="fmt")
    r = await glance.patch(tok, img["id"], [{"op": "replace", "path": "/disk_format",
                                             "value": "qcow2"}])
    assert r.status_code == 200
    assert (await glance.upload(tok, img["id"], b"data")).status_code == 204
    r = await glance.patch(tok, img["id"], [{"op": "replace", "path": "/disk_format",
                                             "value": "raw"}])
    assert r.status_code == 403
    r = await glance.patch(tok, img["id"], [{"op": "replace", "path": "/size", "value": 1}])
    assert r.status_code == 403


async def test_property_quota(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="q")
    ops = [{"op": "add", "path": f"/p{i}", "value": "v"} for i in range(129)]
    r = await glance.patch(tok, img["id"], ops)
    assert r.status_code == 413
