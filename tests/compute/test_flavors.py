"""Flavors: bootstrap defaults, CRUD, filters, access lists, extra specs."""

from __future__ import annotations

from kumo.api.openstack.compute import bootstrap as compute_bootstrap
from kumo.model import compute as cm

from .conftest import Nova, Tenant


async def test_bootstrap_defaults_are_idempotent(nova: Nova, alice: Tenant) -> None:
    await compute_bootstrap.bootstrap(nova.rt)
    await compute_bootstrap.bootstrap(nova.rt)
    flavors = (await nova.ok("GET", "/v2.1/flavors/detail", alice))["flavors"]
    by_name = {f["name"]: f for f in flavors}
    assert set(by_name) == {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge",
                            "m1.nano", "m1.micro"}
    assert (by_name["m1.nano"]["id"], by_name["m1.nano"]["vcpus"], by_name["m1.nano"]["ram"],
            by_name["m1.nano"]["disk"]) == ("42", 1, 128, 1)
    assert (by_name["m1.micro"]["id"], by_name["m1.micro"]["ram"]) == ("84", 192)
    assert (by_name["m1.xlarge"]["id"], by_name["m1.xlarge"]["vcpus"],
            by_name["m1.xlarge"]["ram"], by_name["m1.xlarge"]["disk"]) == ("5", 8, 16384, 160)
    assert len((await nova.objects.list(cm.FLAVOR)).items) == 7


async def test_list_filters_and_sorting(nova: Nova, alice: Tenant) -> None:
    async def names(query: str) -> list[str]:
        body = await nova.ok("GET", f"/v2.1/flavors{query}", alice)
        return [f["name"] for f in body["flavors"]]

    assert await names("?minRam=4096&sort_key=memory_mb") == ["m1.medium", "m1.large",
                                                              "m1.xlarge"]
    assert await names("?minDisk=40&sort_key=memory_mb&sort_dir=desc") == [
        "m1.xlarge", "m1.large", "m1.medium"]
    assert (await names("?sort_key=flavorid&limit=2")) == ["m1.tiny", "m1.small"]
    page = await nova.ok("GET", "/v2.1/flavors?sort_key=flavorid&limit=2&marker=2", alice)
    assert [f["id"] for f in page["flavors"]] == ["3", "4"]
    assert "flavors_links" in page
    r = await nova.call("GET", "/v2.1/flavors?minRam=lots", alice)
    assert r.status_code == 400 and "Invalid minRam filter [lots]" in r.text
    r = await nova.call("GET", "/v2.1/flavors?sort_key=colour", alice)
    assert r.status_code == 400
    brief = (await nova.ok("GET", "/v2.1/flavors", alice, version="2.54"))["flavors"][0]
    assert set(brief) == {"id", "name", "links"}


async def test_crud_by_admin_only(nova: Nova, alice: Tenant) -> None:
    body = {"flavor": {"name": "c1", "ram": 256, "vcpus": 2, "disk": 3, "id": "c1id",
                       "description": "custom", "swap": 64}}
    r = await nova.call("POST", "/v2.1/flavors", alice, json=body)
    assert r.status_code == 403
    assert "os_compute_api:os-flavor-manage:create" in r.json()["forbidden"]["message"]
    admin = await nova.admin()
    f = (await nova.ok("POST", "/v2.1/flavors", admin, json=body))["flavor"]
    assert (f["id"], f["ram"], f["vcpus"], f["disk"], f["swap"]) == ("c1id", 256, 2, 3, 64)
    assert f["description"] == "custom" and f["extra_specs"] == {}
    assert (await nova.call("POST", "/v2.1/flavors", admin, json=body)).status_code == 409
    body["flavor"]["id"] = "other"
    r = await nova.call("POST", "/v2.1/flavors", admin, json=body)
    assert r.status_code == 409 and "Flavor with name c1 already exists." in r.text
    gen = (await nova.ok("POST", "/v2.1/flavors", admin, json={"flavor": {
        "name": "auto", "ram": "64", "vcpus": 1, "disk": 0}}))["flavor"]
    assert len(gen["id"]) == 36
    upd = await nova.ok("PUT", "/v2.1/flavors/c1id", admin,
                        json={"flavor": {"description": "changed"}})
    assert upd["flavor"]["description"] == "changed"
    old = await nova.call("GET", "/v2.1/flavors/c1id", alice, version="2.60")
    assert old.json()["flavor"]["swap"] == 64 and "extra_specs" not in old.json()["flavor"]
    assert (await nova.call("DELETE", "/v2.1/flavors/c1id", alice)).status_code == 403
    assert (await nova.call("DELETE", "/v2.1/flavors/c1id", admin)).status_code == 202
    r = await nova.call("GET", "/v2.1/flavors/c1id", alice)
    assert r.status_code == 404 and r.json()["itemNotFound"]["message"] == (
        "Flavor c1id could not be found.")


BAD_FLAVORS = [
    ({"name": "x", "ram": 0, "vcpus": 1, "disk": 1}, "field/attribute ram"),
    ({"name": "x", "ram": 1, "vcpus": -1, "disk": 1}, "field/attribute vcpus"),
    ({"name": "x", "ram": 1, "vcpus": 1}, "'disk' is a required property"),
    ({"name": " x", "ram": 1, "vcpus": 1, "disk": 1}, "An invalid 'name' value"),
    ({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "id": " bad"}, "field/attribute id"),
    ({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "colour": "red"}, "'colour' was unexpected"),
    ({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": 0}, "rxtx_factor"),
]


async def test_bad_flavors(nova: Nova) -> None:
    admin = await nova.admin()
    before = len((await nova.objects.list(cm.FLAVOR)).items)
    for flavor, fragment in BAD_FLAVORS:
        r = await nova.call("POST", "/v2.1/flavors", admin, json={"flavor": flavor})
        assert r.status_code == 400, (flavor, r.text)
        assert fragment in r.json()["badRequest"]["message"], r.text
    r = await nova.call("POST", "/v2.1/flavors", admin, version="2.54", json={"flavor": {
        "name": "x", "ram": 1, "vcpus": 1, "disk": 1, "description": "d"}})
    assert r.status_code == 400
    assert len((await nova.objects.list(cm.FLAVOR)).items) == before


async def test_private_flavor_access(nova: Nova, alice: Tenant) -> None:
    admin = await nova.admin()
    await nova.ok("POST", "/v2.1/flavors", admin, json={"flavor": {
        "name": "priv", "id": "p1", "ram": 64, "vcpus": 1, "disk": 1,
        "os-flavor-access:is_public": False}})
    assert (await nova.call("GET", "/v2.1/flavors/p1", alice)).status_code == 404
    names = [f["name"] for f in (await nova.ok("GET", "/v2.1/flavors", alice))["flavors"]]
    assert "priv" not in names
    access = await nova.ok("POST", "/v2.1/flavors/p1/action", admin,
                           json={"addTenantAccess": {"tenant": alice.project_id}})
    assert access == {"flavor_access": [{"flavor_id": "p1", "tenant_id": alice.project_id}]}
    r = await nova.call("POST", "/v2.1/flavors/p1/action", admin,
                        json={"addTenantAccess": {"tenant": alice.project_id}})
    assert r.status_code == 409
    r = await nova.call("POST", "/v2.1/flavors/p1/action", admin,
                        json={"addTenantAccess": {"tenant": "f" * 32}})
    assert r.status_code == 400 and "is not a valid project" in r.text
    assert (await nova.ok("GET", "/v2.1/flavors/p1", alice))["flavor"]["name"] == "priv"
    names = [f["name"] for f in (await nova.ok("GET", "/v2.1/flavors", alice))["flavors"]]
    assert "priv" in names
    listed = await nova.ok("GET", "/v2.1/flavors/p1/os-flavor-access", admin)
    assert listed["flavor_access"][0]["tenant_id"] == alice.project_id
    r = await nova.call("GET", "/v2.1/flavors/1/os-flavor-access", admin)
    assert r.status_code == 404 and "public flavors" in r.text
    r = await nova.call("POST", "/v2.1/flavors/1/action", admin,
                        json={"addTenantAccess": {"tenant": alice.project_id}})
    assert r.status_code == 409 and "Can not add access to a public flavor." in r.text
    await nova.ok("POST", "/v2.1/flavors/p1/action", admin,
                  json={"removeTenantAccess": {"tenant": alice.project_id}})
    assert (await nova.call("GET", "/v2.1/flavors/p1", alice)).status_code == 404
    r = await nova.call("POST", "/v2.1/flavors/p1/action", admin,
                        json={"removeTenantAccess": {"tenant": alice.project_id}})
    assert r.status_code == 404
    private = await nova.ok("GET", "/v2.1/flavors?is_public=false", admin)
    assert [f["id"] for f in private["flavors"]] == ["p1"]
    everything = await nova.ok("GET", "/v2.1/flavors?is_public=none", admin)
    assert len(everything["flavors"]) == 8


async def test_extra_specs(nova: Nova, alice: Tenant) -> None:
    admin = await nova.admin()
    base = "/v2.1/flavors/42/os-extra_specs"
    r = await nova.call("POST", base, alice, json={"extra_specs": {"hw:cpu_policy": "shared"}})
    assert r.status_code == 403
    created = await nova.ok("POST", base, admin,
                            json={"extra_specs": {"hw:cpu_policy": "shared", "n": 2}})
    assert created == {"extra_specs": {"hw:cpu_policy": "shared", "n": 2}}
    assert (await nova.ok("GET", base, alice)) == {
        "extra_specs": {"hw:cpu_policy": "shared", "n": "2"}}
    assert (await nova.ok("GET", base + "/n", alice)) == {"n": "2"}
    assert (await nova.ok("PUT", base + "/n", admin, json={"n": "3"})) == {"n": "3"}
    r = await nova.call("PUT", base + "/n", admin, json={"m": "3"})
    assert r.status_code == 400 and "Request body and URI mismatch" in r.text
    flavor = (await nova.ok("GET", "/v2.1/flavors/42", alice))["flavor"]
    assert flavor["extra_specs"] == {"hw:cpu_policy": "shared", "n": "3"}
    assert (await nova.call("DELETE", base + "/n", admin)).status_code == 202
    r = await nova.call("GET", base + "/n", alice)
    assert r.status_code == 404 and "has no extra specs with key n" in r.text
    r = await nova.call("POST", base, admin, json={"extra_specs": {"bad/key": "x"}})
    assert r.status_code == 400
    r = await nova.call("POST", base, admin, json={"extra_specs": {"k": "x" * 256}})
    assert r.status_code == 400
