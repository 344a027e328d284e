"""Glance metadata definitions: admins write, visibility decides who reads, a protected
namespace stays, and a namespace's parts live and die with it."""

from __future__ import annotations

from .conftest import Glance

NS = "/v2/metadefs/namespaces"


async def test_namespace_lifecycle_and_visibility(glance: Glance) -> None:
    admin = await glance.admin_token()
    member = await glance.token(await glance.project("p1"))
    types = (await glance.request("GET", "/v2/metadefs/resource_types", member)).json()
    assert "OS::Glance::Image" in [t["name"] for t in types["resource_types"]]
    body = {"namespace": "hw", "visibility": "private", "protected": True,
            "resource_type_associations": [{"name": "OS::Nova::Flavor"}]}
    assert (await glance.request("POST", NS, member, json=body)).status_code == 403
    r = await glance.request("POST", NS, admin, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["resource_type_associations"][0]["name"] == "OS::Nova::Flavor"
    assert (await glance.request("POST", NS, admin, json=body)).status_code == 409
    assert (await glance.request("GET", f"{NS}/hw", member)).status_code == 404  # private
    listed = (await glance.request("GET", NS, member)).json()["namespaces"]
    assert listed == []
    assert (await glance.request("DELETE", f"{NS}/hw", admin)).status_code == 403  # protected
    r = await glance.request("PUT", f"{NS}/hw", admin, json={
        "namespace": "hw", "visibility": "public", "protected": False})
    assert r.json()["visibility"] == "public" and r.json()["protected"] is False
    assert (await glance.request("GET", f"{NS}/hw", member)).json()["namespace"] == "hw"
    assert (await glance.request("DELETE", f"{NS}/hw", member)).status_code == 403
    assert (await glance.request("DELETE", f"{NS}/hw", admin)).status_code == 204
    assert (await glance.request("GET", f"{NS}/hw", admin)).status_code == 404


async def test_objects_properties_tags(glance: Glance) -> None:
    admin = await glance.admin_token()
    assert (await glance.request("POST", NS, admin, json={"namespace": "n"})).status_code == 201
    r = await glance.request("POST", f"{NS}/n/objects", admin, json={"name": "cpu"})
    assert r.status_code == 201 and r.json()["self"] == f"{NS}/n/objects/cpu"
    r = await glance.request("PUT", f"{NS}/n/objects/cpu", admin, json={"name": "cpu2"})
    assert r.json()["name"] == "cpu2"
    objs = (await glance.request("GET", f"{NS}/n/objects", admin)).json()["objects"]
    assert [o["name"] for o in objs] == ["cpu2"]
    r = await glance.request("POST", f"{NS}/n/properties", admin, json={
        "name": "hv", "title": "Hypervisor", "type": "string", "enum": ["kvm", "qemu"]})
    assert r.status_code == 201, r.text
    assert (await glance.request("POST", f"{NS}/n/properties", admin, json={
        "name": "x", "type": "string"})).status_code == 400  # no title
    assert (await glance.request("GET", f"{NS}/n/properties/hv", admin)).json()["enum"] == [
        "kvm", "qemu"]
    r = await glance.request("POST", f"{NS}/n/tags", admin, json={
        "tags": [{"name": "a"}, {"name": "b"}]})
    assert r.status_code == 201
    assert (await glance.request("POST", f"{NS}/n/tags/c", admin)).status_code == 201
    r = await glance.request("PUT", f"{NS}/n/tags/c", admin, json={"name": "d"})
    assert r.json()["name"] == "d"
    tags = (await glance.request("GET", f"{NS}/n/tags", admin)).json()["tags"]
    assert sorted(t["name"] for t in tags) == ["a", "b", "d"]
    assert (await glance.request("DELETE", f"{NS}/n/tags", admin)).status_code == 204
    assert (await glance.request("GET", f"{NS}/n/tags", admin)).json()["tags"] == []
    r = await glance.request("POST", f"{NS}/n/resource_types", admin, json={
        "name": "OS::Glance::Image", "prefix": "hw_"})
    assert r.status_code == 201
    assert (await glance.request("DELETE", f"{NS}/n/resource_types/OS::Glance::Image",
                                 admin)).status_code == 204
    assert (await glance.request("DELETE", f"{NS}/n", admin)).status_code == 204
    assert (await glance.request("GET", f"{NS}/n/objects/cpu2", admin)).status_code == 404


async def test_metadef_schemas_and_empty_image_id(glance: Glance) -> None:
    tok = await glance.token(await glance.project("p"))
    for name, title in (("namespace", "namespace"), ("namespaces", "namespaces"),
                        ("resource_type", "resource_type_association"),
                        ("resource_types", "resource_type_associations"),
                        ("object", "object"), ("property", "property"), ("tags", "tags")):
        r = await glance.request("GET", f"/v2/schemas/metadefs/{name}", tok)
        assert r.status_code == 200 and r.json()["name"] == title
    assert (await glance.request("GET", "/v2/images/", tok)).status_code == 404
    assert (await glance.request("DELETE", "/v2/images/", tok)).status_code == 404
