"""Server views, listing and filters, tenant isolation, update, metadata and tags."""

from __future__ import annotations

import hashlib

import pytest

from kumo import store

from .conftest import Nova, Tenant

STATES = [
    ({"vmState": "building", "taskState": "spawning"}, "BUILD"),
    ({"vmState": "active", "taskState": None}, "ACTIVE"),
    ({"vmState": "active", "taskState": "rebooting"}, "REBOOT"),
    ({"vmState": "active", "taskState": "rebooting_hard"}, "HARD_REBOOT"),
    ({"vmState": "active", "taskState": "rebuilding"}, "REBUILD"),
    ({"vmState": "active", "taskState": "powering-off"}, "ACTIVE"),
    ({"vmState": "stopped", "taskState": None}, "SHUTOFF"),
    ({"vmState": "paused", "taskState": None}, "PAUSED"),
    ({"vmState": "error", "taskState": None}, "ERROR"),
    ({"vmState": "stopped", "taskState": "rebuilding"}, "REBUILD"),
    ({"vmState": "deleted", "taskState": None}, "DELETED"),
]


@pytest.mark.parametrize(("status", "shown"), STATES)
async def test_status_mapping(nova: Nova, alice: Tenant, public_image: str,
                              status: dict, shown: str) -> None:
    sid = await nova.boot(alice, public_image)
    await nova.play_agent(alice.project_id, sid, **status)
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice))["server"]
    assert s["status"] == shown
    assert s["OS-EXT-STS:vm_state"] == status["vmState"]
    assert s["OS-EXT-STS:task_state"] == status["taskState"]


async def test_detail_fields(nova: Nova, alice: Tenant, public_image: str) -> None:
    await nova.host("node1", az="zone-a")
    sid = await nova.active(alice, public_image)
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice))["server"]
    assert s["hostId"] == hashlib.sha224((alice.project_id + "node1").encode()).hexdigest()
    assert s["OS-EXT-AZ:availability_zone"] == "zone-a"
    assert s["OS-EXT-STS:power_state"] == 1 and s["addresses"] == {}
    assert s["OS-SRV-USG:launched_at"] and s["config_drive"] == ""
    assert s["accessIPv4"] == "" and "security_groups" not in s
    assert s["flavor"]["original_name"] == "m1.nano" and s["flavor"]["extra_specs"] == {}
    assert s["image"]["id"] == public_image and s["created"].endswith("Z")
    assert "host_status" not in s and "OS-EXT-SRV-ATTR:host" not in s
    admin = await nova.admin()
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", admin))["server"]
    assert s["OS-EXT-SRV-ATTR:host"] == "node1"
    assert s["OS-EXT-SRV-ATTR:hypervisor_hostname"] == "node1"
    assert s["OS-EXT-SRV-ATTR:instance_name"].startswith("instance-")
    assert s["OS-EXT-SRV-ATTR:reservation_id"].startswith("r-")
    assert s["host_status"] == "UP"


async def test_tenant_isolation(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    bob = await nova.tenant("beta")
    for method, path, body in (("GET", f"/v2.1/servers/{sid}", None),
                               ("DELETE", f"/v2.1/servers/{sid}", None),
                               ("PUT", f"/v2.1/servers/{sid}", {"server": {"name": "x"}}),
                               ("POST", f"/v2.1/servers/{sid}/action", {"os-stop": None}),
                               ("GET", f"/v2.1/servers/{sid}/metadata", None),
                               ("GET", f"/v2.1/servers/{sid}/os-instance-actions", None)):
        r = await nova.call(method, path, bob, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["itemNotFound"]["message"] == f"Instance {sid} could not be found."
    assert (await nova.ok("GET", "/v2.1/servers", bob))["servers"] == []
    r = await nova.call("GET", "/v2.1/servers?all_tenants=1", bob)
    assert r.status_code == 403
    admin = await nova.admin()
    assert (await nova.ok("GET", "/v2.1/servers", admin))["servers"] == []
    everyone = (await nova.ok("GET", "/v2.1/servers/detail?all_tenants=1", admin))["servers"]
    assert [s["id"] for s in everyone] == [sid]
    mine = await nova.ok("GET", f"/v2.1/servers?all_tenants=1&project_id={bob.project_id}", admin)
    assert mine["servers"] == []
    assert (await nova.ok("GET", f"/v2.1/servers/{sid}", admin))["server"]["id"] == sid


async def test_list_filters_sort_and_paging(nova: Nova, alice: Tenant, public_image: str) -> None:
    other_image = await nova.image(alice.project_id)
    a = await nova.active(alice, public_image, name="web-1", tags=["blue", "x"])
    b = await nova.active(alice, other_image, name="web-2", flavor="1", tags=["red"])
    c = await nova.boot(alice, public_image, name="db-1")
    await nova.play_agent(alice.project_id, b, vmState="stopped", powerState=4)

    async def ids(query: str, who: Tenant = alice, version: str = "2.100") -> list[str]:
        body = await nova.ok("GET", f"/v2.1/servers{query}", who, version=version)
        return [s["id"] for s in body["servers"]]

    assert set(await ids("")) == {a, b, c}
    assert set(await ids("?name=^web")) == {a, b}
    assert await ids("?status=SHUTOFF") == [b]
    assert set(await ids("?status=ACTIVE&status=BUILD")) == {a, c}
    assert await ids(f"?image={other_image}") == [b]
    assert await ids("?flavor=1") == [b]
    assert await ids("?tags=blue,x") == [a]
    assert set(await ids("?tags-any=blue,red")) == {a, b}
    assert set(await ids("?not-tags=blue")) == {b, c}
    r = await nova.call("GET", "/v2.1/servers?status=BOGUS", alice)
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == "Invalid status value"
    assert await ids("?status=BOGUS", version="2.37") == []
    assert await ids("?sort_key=display_name&sort_dir=asc") == [c, a, b]
    assert await ids("?sort_key=display_name&sort_dir=desc") == [b, a, c]
    first = await nova.ok("GET", "/v2.1/servers?sort_key=display_name&sort_dir=asc&limit=2",
                          alice)
    assert [s["id"] for s in first["servers"]] == [c, a]
    nxt = first["servers_links"][0]
    assert nxt["rel"] == "next" and f"marker={a}" in nxt["href"]
    assert await ids(f"?sort_key=display_name&sort_dir=asc&limit=2&marker={a}") == [b]
    r = await nova.call("GET", "/v2.1/servers?marker=nope", alice)
    assert r.status_code == 400 and "marker [nope] not found" in r.text
    r = await nova.call("GET", "/v2.1/servers?limit=-1", alice)
    assert r.status_code == 400
    r = await nova.call("GET", "/v2.1/servers?sort_key=host", alice)
    assert r.status_code == 403
    await nova.call("POST", f"/v2.1/servers/{a}/action", alice, json={"lock": None})
    assert await ids("?locked=true") == [a]
    assert set(await ids("?changes-since=2000-01-01T00:00:00Z")) == {a, b, c}
    assert await ids("?changes-since=2999-01-01T00:00:00Z") == []
    r = await nova.call("GET", "/v2.1/servers?changes-since=yesterday", alice)
    assert r.status_code == 400
    admin = await nova.admin()
    assert await ids("?all_tenants=1&host=node1", admin) != []
    assert set(await ids("?host=node1")) == {a, b, c}  # non-admins: host filter ignored
    basic = (await nova.ok("GET", "/v2.1/servers", alice))["servers"][0]
    assert set(basic) == {"id", "name", "links"}


async def test_update_server(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.boot(alice, public_image)
    body = await nova.ok("PUT", f"/v2.1/servers/{sid}", alice,
                         json={"server": {"name": "new", "description": "d"}})
    assert body["server"]["name"] == "new" and body["server"]["description"] == "d"
    obj = await nova.server_obj(alice.project_id, sid)
    assert obj["spec"]["displayName"] == "new" and obj["spec"]["description"] == "d"
    r = await nova.call("PUT", f"/v2.1/servers/{sid}", alice, version="2.18",
                        json={"server": {"description": "d"}})
    assert r.status_code == 400 and "'description' was unexpected" in r.text
    r = await nova.call("PUT", f"/v2.1/servers/{sid}", alice, json={"server": {"name": ""}})
    assert r.status_code == 400


async def test_metadata_api(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.boot(alice, public_image, metadata={"a": "1"})
    base = f"/v2.1/servers/{sid}/metadata"
    r = await nova.call("POST", base, alice, json={"metadata": {"b": "2"}})
    assert r.status_code == 409 and "vm_state building" in r.text
    await nova.play_agent(alice.project_id, sid)
    assert (await nova.ok("GET", base, alice)) == {"metadata": {"a": "1"}}
    assert (await nova.ok("POST", base, alice, json={"metadata": {"b": "2"}})) == {
        "metadata": {"a": "1", "b": "2"}}
    assert (await nova.ok("PUT", base + "/c", alice, json={"meta": {"c": "3"}})) == {
        "meta": {"c": "3"}}
    assert (await nova.ok("GET", base + "/c", alice)) == {"meta": {"c": "3"}}
    r = await nova.call("PUT", base + "/c", alice, json={"meta": {"d": "4"}})
    assert r.status_code == 400 and "Request body and URI mismatch" in r.text
    r = await nova.call("PUT", base + "/c", alice, json={"meta": {"c": "4", "d": "4"}})
    assert r.status_code == 400 and "too many items" in r.text
    assert (await nova.call("DELETE", base + "/a", alice)).status_code == 204
    r = await nova.call("GET", base + "/a", alice)
    assert r.status_code == 404 and "Metadata item was not found" in r.text
    assert (await nova.ok("PUT", base, alice, json={"metadata": {"z": "9"}})) == {
        "metadata": {"z": "9"}}
    r = await nova.call("PUT", base, alice, json={"metadata": {f"k{i}": "v" for i in range(200)}})
    assert r.status_code == 403
    assert (await nova.server_obj(alice.project_id, sid))["spec"]["metadata"] == {"z": "9"}


async def test_tags_api(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    base = f"/v2.1/servers/{sid}/tags"
    assert (await nova.call("GET", base, alice, version="2.25")).status_code == 404
    assert (await nova.ok("PUT", base, alice, json={"tags": ["b", "a"]})) == {"tags": ["a", "b"]}
    r = await nova.call("PUT", base + "/c", alice)
    assert r.status_code == 201 and r.headers["location"].endswith(f"{sid}/tags/c")
    assert (await nova.call("PUT", base + "/c", alice)).status_code == 204
    assert (await nova.call("GET", base + "/c", alice)).status_code == 204
    assert (await nova.call("GET", base + "/zz", alice)).status_code == 404
    assert (await nova.call("DELETE", base + "/a", alice)).status_code == 204
    assert (await nova.ok("GET", base, alice)) == {"tags": ["b", "c"]}
    assert (await nova.call("DELETE", base, alice)).status_code == 204
    assert (await nova.ok("GET", base, alice)) == {"tags": []}
    r = await nova.call("PUT", base, alice, json={"tags": [f"t{i}" for i in range(51)]})
    assert r.status_code == 400


async def test_pending_spec_changes_are_shown_as_tasks(nova: Nova, alice: Tenant,
                                                       public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    await nova.call("POST", f"/v2.1/servers/{sid}/action", alice, json={"pause": None})
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice))["server"]
    assert (s["status"], s["OS-EXT-STS:task_state"]) == ("ACTIVE", "pausing")
    await nova.play_agent(alice.project_id, sid, vmState="paused", powerState=3)
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice))["server"]
    assert (s["status"], s["OS-EXT-STS:task_state"]) == ("PAUSED", None)
    before = s["updated"]
    assert before <= store.now_iso()[:19] + "Z"


async def test_concurrent_writes_lose_nothing(nova: Nova, alice: Tenant,
                                              public_image: str) -> None:
    """Every spec write is CAS with retry: concurrent updates all land."""
    import asyncio

    sid = await nova.active(alice, public_image)
    base = f"/v2.1/servers/{sid}/metadata"
    results = await asyncio.gather(*(
        nova.call("PUT", f"{base}/k{i}", alice, json={"meta": {f"k{i}": str(i)}})
        for i in range(12)))
    assert all(r.status_code == 200 for r in results)
    meta = (await nova.ok("GET", base, alice))["metadata"]
    assert meta == {f"k{i}": str(i) for i in range(12)}
    await asyncio.gather(*(
        nova.call("POST", f"/v2.1/servers/{sid}/action", alice, json={"lock": None}),
        nova.call("PUT", f"/v2.1/servers/{sid}", alice, json={"server": {"name": "renamed"}}),
        nova.play_agent(alice.project_id, sid, powerState=1)))
    obj = await nova.server_obj(alice.project_id, sid)
    assert obj["spec"]["locked"] and obj["spec"]["displayName"] == "renamed"
    assert obj["spec"]["metadata"] == meta
