"""Version documents and microversion negotiation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kumo.api.errors import ApiError
from kumo.api.openstack.compute import microversion as mv

from .conftest import Nova, Tenant


async def test_version_documents(nova: Nova) -> None:
    r = await nova.call("GET", "/", None, version=None)
    assert r.status_code == 200
    (v,) = r.json()["versions"]
    assert v["id"] == "v2.1" and v["status"] == "CURRENT"
    assert v["min_version"] == "2.1" and v["version"] == "2.100"
    assert v["links"][0]["href"] == "http://kumo/compute/v2.1/"
    for path in ("/v2.1", "/v2.1/"):
        r = await nova.call("GET", path, None, version=None)
        assert r.status_code == 200
        doc = r.json()["version"]
        assert doc["id"] == "v2.1" and doc["version"] == "2.100"
        assert doc["media-types"][0]["base"] == "application/json"


async def test_default_latest_and_legacy_headers(nova: Nova, alice: Tenant) -> None:
    r = await nova.call("GET", "/v2.1/flavors", alice, version=None)
    assert r.headers["openstack-api-version"] == "compute 2.1"
    assert r.headers["x-openstack-nova-api-version"] == "2.1"
    assert set(r.headers.get_list("vary")) >= {"OpenStack-API-Version",
                                                "X-OpenStack-Nova-API-Version"}
    assert "description" not in r.json()["flavors"][0]
    r = await nova.call("GET", "/v2.1/flavors", alice, version="latest")
    assert r.headers["openstack-api-version"] == "compute 2.100"
    assert "description" in r.json()["flavors"][0]
    r = await nova.call("GET", "/v2.1/flavors", alice, version=None,
                        headers={"X-OpenStack-Nova-API-Version": "2.55"})
    assert r.headers["x-openstack-nova-api-version"] == "2.55"
    r = await nova.call("GET", "/v2.1/flavors", alice, version=None,
                        headers={"OpenStack-API-Version": "image 2.5, compute 2.60"})
    assert r.headers["openstack-api-version"] == "compute 2.60"


async def test_out_of_range_is_406_and_garbage_is_400(nova: Nova, alice: Tenant) -> None:
    for bad in ("2.101", "3.0", "2.0"):
        r = await nova.call("GET", "/v2.1/servers", alice, version=bad)
        assert r.status_code == 406, bad
        body = r.json()["computeFault"]
        assert body["code"] == 406
        assert "Minimum is 2.1 and maximum is 2.100" in body["message"]
    r = await nova.call("GET", "/v2.1/servers", alice, version="two")
    assert r.status_code == 400
    assert "is of invalid format" in r.json()["badRequest"]["message"]


async def test_errors_carry_version_headers_and_nova_bodies(nova: Nova, alice: Tenant) -> None:
    r = await nova.call("GET", "/v2.1/servers/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12, alice)
    assert r.status_code == 404
    assert r.headers["openstack-api-version"] == "compute 2.100"
    assert r.json() == {"itemNotFound": {
        "message": "Instance 00000000-0000-0000-0000-000000000000 could not be found.",
        "code": 404}}
    r = await nova.call("GET", "/v2.1/servers", None)
    assert r.status_code == 401 and r.json()["unauthorized"]["code"] == 401


async def test_project_id_in_url(nova: Nova, alice: Tenant) -> None:
    r = await nova.call("GET", f"/v2.1/{alice.project_id}/flavors", alice)
    assert r.status_code == 200 and r.json()["flavors"]
    other = "f" * 32
    r = await nova.call("GET", f"/v2.1/{other}/flavors", alice)
    assert r.status_code == 400
    assert "doesn't match Context's project_id" in r.json()["badRequest"]["message"]


@given(major=st.integers(0, 5), minor=st.integers(0, 200))
def test_negotiation_accepts_exactly_the_supported_range(major: int, minor: int) -> None:
    wanted = f"{major}.{minor}"
    inside = (2, 1) <= (major, minor) <= (2, 100)
    try:
        got = mv.negotiate({"openstack-api-version": f"compute {wanted}"})
    except ApiError as err:
        assert not inside
        assert err.status == (406 if major >= 1 else 400)
    else:
        assert inside and got == (major, minor)
