"""POST /servers: what gets written, and every way a request is refused."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kumo.model import compute as cm

from .conftest import Nova, Tenant


async def test_create_writes_server_action_and_event(nova: Nova, alice: Tenant,
                                                     public_image: str) -> None:
    await nova.ok("POST", "/v2.1/os-keypairs", alice, 201, version="2.10",
                  json={"keypair": {"name": "k1"}})
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    r = await nova.call("POST", "/v2.1/servers", alice, json={"server": {
        "name": "web", "imageRef": public_image, "flavorRef": "42", "networks": "none",
        "key_name": "k1", "user_data": user_data, "metadata": {"role": "web"},
        "availability_zone": "nova", "description": "front", "tags": ["a", "b"]}},
        headers={"X-Openstack-Request-Id": "req-create-1"})
    assert r.status_code == 202, r.text
    body = r.json()["server"]
    sid = body["id"]
    assert r.headers["location"].endswith(f"/compute/v2.1/servers/{sid}")
    assert body["OS-DCF:diskConfig"] == "MANUAL" and "security_groups" not in body
    obj = await nova.server_obj(alice.project_id, sid)
    assert obj is not None
    spec = obj["spec"]
    assert spec["displayName"] == "web" and spec["power"] == "on"
    assert spec["requestId"] == "req-create-1" and spec["networks"] == "none"
    assert spec["flavor"] == {"id": "42", "name": "m1.nano", "vcpus": 1, "ram": 128, "disk": 1,
                              "ephemeral": 0, "swap": 0, "extraSpecs": {}}
    assert spec["image"]["id"] == public_image and spec["image"]["checksum"] == "0" * 32
    assert spec["keyName"] == "k1" and spec["publicKey"].startswith("ssh-rsa ")
    assert spec["userData"] == user_data and spec["metadata"] == {"role": "web"}
    assert spec["availabilityZone"] == "nova" and spec["tags"] == ["a", "b"]
    assert spec["reboot"]["nonce"] == 0 and spec["rebuild"]["nonce"] == 0
    assert spec["locked"] is None and spec["host"] is None
    assert obj["status"] == {"vmState": "building", "taskState": "scheduling",
                             "powerState": 0}
    assert obj["metadata"]["namespace"] == alice.project_id
    actions = (await nova.objects.list(cm.INSTANCE_ACTION, alice.project_id)).items
    assert [a["metadata"]["name"] for a in actions] == ["req-create-1"]
    assert actions[0]["metadata"]["labels"] == {"kumo.io/server": sid}
    assert actions[0]["spec"]["action"] == "create"
    assert actions[0]["spec"]["userId"] == alice.user_id
    events = (await nova.objects.list("Event", alice.project_id)).items
    assert [(e["component"], e["reason"], e["requestId"]) for e in events] == [
        ("compute-api", "CreateAccepted", "req-create-1")]
    show = await nova.ok("GET", f"/v2.1/servers/{sid}", alice)
    s = show["server"]
    assert s["status"] == "BUILD" and s["OS-EXT-STS:task_state"] == "scheduling"
    assert s["key_name"] == "k1" and s["metadata"] == {"role": "web"}
    assert s["description"] == "front" and s["tags"] == ["a", "b"]
    assert s["user_id"] == alice.user_id and s["tenant_id"] == alice.project_id
    assert "OS-EXT-SRV-ATTR:host" not in s and s["pinned_availability_zone"] == "nova"


async def test_multi_create_suffixes_names(nova: Nova, alice: Tenant, public_image: str) -> None:
    await nova.boot(alice, public_image, name="batch", min_count=3, max_count=3)
    names = sorted(s["spec"]["displayName"] for s in await nova.servers(alice.project_id))
    assert names == ["batch-1", "batch-2", "batch-3"]
    actions = (await nova.objects.list(cm.INSTANCE_ACTION, alice.project_id)).items
    assert len(actions) == 3
    r = await nova.call("POST", "/v2.1/servers", alice, json={"server": {
        "name": "r", "imageRef": public_image, "flavorRef": "42", "networks": "auto",
        "return_reservation_id": True}})
    assert r.status_code == 202 and r.json()["reservation_id"].startswith("r-")


async def test_image_mapping_as_openstackclient_sends_it(nova: Nova, alice: Tenant,
                                                        public_image: str) -> None:
    bdm = [{"uuid": public_image, "boot_index": 0, "source_type": "image",
            "destination_type": "local", "delete_on_termination": True}]
    sid = await nova.boot(alice, public_image, block_device_mapping_v2=bdm)
    assert (await nova.server_obj(alice.project_id, sid))["spec"]["image"]["id"] == public_image
    sid = await nova.boot(alice, "", block_device_mapping_v2=bdm)
    assert (await nova.server_obj(alice.project_id, sid))["spec"]["image"]["id"] == public_image
    other = await nova.image(alice.project_id)
    r = await nova.call("POST", "/v2.1/servers", alice,
                        json=_req(other, block_device_mapping_v2=bdm))
    assert r.status_code == 400 and "does not match imageRef" in r.text


async def test_older_microversions(nova: Nova, alice: Tenant, public_image: str) -> None:
    r = await nova.call("POST", "/v2.1/servers", alice, version="2.1", json={"server": {
        "name": "old", "imageRef": public_image, "flavorRef": "42"}})
    assert r.status_code == 202, r.text
    assert r.json()["server"]["security_groups"] == [{"name": "default"}]
    sid = r.json()["server"]["id"]
    obj = await nova.server_obj(alice.project_id, sid)
    assert obj["spec"]["networks"] == "auto" and obj["spec"]["description"] == "old"
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice, version="2.1"))["server"]
    assert s["flavor"]["id"] == "42" and s["flavor"]["links"][0]["rel"] == "bookmark"
    assert "locked" not in s and "description" not in s and "tags" not in s


def _req(image: str, **over: Any) -> dict[str, Any]:
    server = {"name": "x", "imageRef": image, "flavorRef": "42", "networks": "none"}
    server.update(over)
    return {"server": {k: v for k, v in server.items() if v is not ...}}


BAD = [
    # (body change, status, fragment of the message)
    ({"flavorRef": "nope"}, 400, "Flavor nope could not be found."),
    ({"imageRef": "00000000-0000-0000-0000-000000000000"}, 400, "Can not find requested image"),
    ({"imageRef": "not-a-uuid"}, 400, "is not a 'uuid'"),
    ({"imageRef": ...}, 400, "Missing imageRef attribute"),
    ({"name": ...}, 400, "'name' is a required property"),
    ({"name": " padded"}, 400, "An invalid 'name' value was provided"),
    ({"name": 5}, 400, "field/attribute name"),
    ({"flavorRef": ...}, 400, "'flavorRef' is a required property"),
    ({"networks": ...}, 400, "'networks' is a required property"),
    ({"networks": "everything"}, 400, "is not one of ['none', 'auto']"),
    ({"networks": [{"uuid": "00000000-0000-0000-0000-000000000001"}]}, 400,
     "Network 00000000-0000-0000-0000-000000000001 could not be found."),
    ({"networks": [{"port": "00000000-0000-0000-0000-000000000001"}]}, 400,
     "Port 00000000-0000-0000-0000-000000000001 could not be found."),
    ({"key_name": "missing"}, 400, "Invalid key_name provided."),
    ({"user_data": "%%%not base64%%%"}, 400, "is not a 'base64'"),
    ({"user_data": "A" * 65536}, 400, "field/attribute user_data"),
    ({"metadata": {"bad/key": "v"}}, 400, "field/attribute metadata"),
    ({"metadata": {"k": 1}}, 400, "is not of type 'string'"),
    ({"metadata": {f"k{i}": "v" for i in range(129)}}, 403,
     "Maximum number of metadata items exceeds 128"),
    ({"availability_zone": "mars"}, 400, "The requested availability zone is not available"),
    ({"min_count": 3, "max_count": 2}, 400, "min_count must be <= max_count"),
    ({"min_count": 0}, 400, "less than the minimum of 1"),
    ({"bogus": 1}, 400, "Additional properties are not allowed ('bogus' was unexpected)"),
    ({"block_device_mapping_v2": [{"source_type": "volume"}]}, 400, "no volume service"),
    ({"block_device_mapping_v2": [{"source_type": "image", "destination_type": "volume",
                                   "boot_index": 0, "volume_size": 1}]}, 400, "no volume service"),
    ({"block_device_mapping_v2": [{"source_type": "blank", "destination_type": "local",
                                   "boot_index": -1, "guest_format": "swap"}]}, 400,
     "Ephemeral and swap disks are not available yet"),
    ({"block_device_mapping": [{"volume_id": "x"}]}, 400, "no volume service"),
    ({"security_groups": [{"name": "web"}]}, 400, "Security group web not found."),
    ({"tags": ["a/b"]}, 400, "field/attribute tags"),
]


@pytest.mark.parametrize(("change", "status", "fragment"), BAD)
async def test_bad_input_leaves_nothing_behind(nova: Nova, alice: Tenant, public_image: str,
                                              change: dict[str, Any], status: int,
                                              fragment: str) -> None:
    r = await nova.call("POST", "/v2.1/servers", alice, json=_req(public_image, **change))
    assert r.status_code == status, r.text
    key = {400: "badRequest", 403: "forbidden"}[status]
    assert fragment in r.json()[key]["message"]
    assert r.json()[key]["code"] == status
    assert await nova.servers(alice.project_id) == []
    assert (await nova.objects.list(cm.INSTANCE_ACTION, alice.project_id)).items == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]", b'{"server": "x"}'])
async def test_malformed_bodies(nova: Nova, alice: Tenant, raw: bytes) -> None:
    r = await nova.call("POST", "/v2.1/servers", alice, content=raw,
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "badRequest" in r.json()
    assert await nova.servers(alice.project_id) == []


async def test_image_checks(nova: Nova, alice: Tenant) -> None:
    other = await nova.project("other")
    cases = [
        (await nova.image(alice.project_id, state="queued"), "is not active."),
        (await nova.image(other, visibility="private"), "Can not find requested image"),
        (await nova.image(other, visibility="shared", members={alice.project_id: "pending"}),
         "Can not find requested image"),
        (await nova.image(alice.project_id, min_ram=4096), "Flavor's memory is too small"),
        (await nova.image(alice.project_id, min_disk=10), "smaller than the minimum size"),
        (await nova.image(alice.project_id, size=2 << 30), "Flavor's disk is too small"),
    ]
    for image, fragment in cases:
        r = await nova.call("POST", "/v2.1/servers", alice, json=_req(image))
        assert r.status_code == 400, r.text
        assert fragment in r.json()["badRequest"]["message"]
    shared = await nova.image(other, visibility="shared", members={alice.project_id: "accepted"})
    own_private = await nova.image(alice.project_id, visibility="private")
    community = await nova.image(other, visibility="community")
    for image in (shared, own_private, community):
        await nova.boot(alice, image)
    assert len(await nova.servers(alice.project_id)) == 3


async def test_private_flavor_and_zero_disk(nova: Nova, alice: Tenant, public_image: str) -> None:
    admin = await nova.admin()
    await nova.ok("POST", "/v2.1/flavors", admin, json={"flavor": {
        "name": "secret", "id": "sec", "ram": 128, "vcpus": 1, "disk": 1,
        "os-flavor-access:is_public": False}})
    await nova.ok("POST", "/v2.1/flavors", admin, json={"flavor": {
        "name": "diskless", "id": "zero", "ram": 128, "vcpus": 1, "disk": 0}})
    r = await nova.call("POST", "/v2.1/servers", alice, json=_req(public_image, flavorRef="sec"))
    assert r.status_code == 400 and "Flavor sec could not be found." in r.text
    await nova.ok("POST", "/v2.1/flavors/sec/action", admin,
                  json={"addTenantAccess": {"tenant": alice.project_id}})
    await nova.boot(alice, public_image, flavor="sec")
    href = "http://kumo/compute/v2.1/flavors/sec"
    await nova.boot(alice, public_image, flavor=href)
    r = await nova.call("POST", "/v2.1/servers", alice, json=_req(public_image, flavorRef="zero"))
    assert r.status_code == 403
    assert "Only volume-backed servers are allowed" in r.json()["forbidden"]["message"]
    await nova.boot(admin, public_image, flavor="zero")


async def test_quotas(nova: Nova, alice: Tenant, public_image: str) -> None:
    admin = await nova.admin()
    await nova.ok("PUT", f"/v2.1/os-quota-sets/{alice.project_id}", admin,
                  json={"quota_set": {"instances": 3, "cores": 20, "ram": 51200}})
    await nova.boot(alice, public_image, min_count=2, max_count=2)
    r = await nova.call("POST", "/v2.1/servers", alice,
                        json=_req(public_image, min_count=2, max_count=2))
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"] == (
        "Quota exceeded for instances: Requested 2, but already used 2 of 3 instances")
    # max_count above the headroom creates what fits, as Nova does
    await nova.boot(alice, public_image, min_count=1, max_count=5)
    assert len(await nova.servers(alice.project_id)) == 3
    r = await nova.call("POST", "/v2.1/servers", alice, json=_req(public_image))
    assert r.status_code == 403
    await nova.ok("PUT", f"/v2.1/os-quota-sets/{alice.project_id}", admin,
                  json={"quota_set": {"instances": 10, "cores": 4, "ram": 51200}})
    r = await nova.call("POST", "/v2.1/servers", alice,
                        json=_req(public_image, flavorRef="3"))  # 2 vcpus, 3 used + 2 > 4
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"].startswith("Quota exceeded for cores: Requested 2")
    sid = (await nova.servers(alice.project_id))[0]["metadata"]["name"]
    await nova.ok("DELETE", f"/v2.1/servers/{sid}", alice, 204)
    await nova.boot(alice, public_image)  # a deleted server frees its quota


async def test_default_instance_quota(nova: Nova, alice: Tenant, public_image: str) -> None:
    await nova.boot(alice, public_image, min_count=10, max_count=10)
    r = await nova.call("POST", "/v2.1/servers", alice, json=_req(public_image))
    assert r.status_code == 403
    assert "Quota exceeded for instances: Requested 1, but already used 10 of 10" in r.text


async def test_server_group_hint(nova: Nova, alice: Tenant, public_image: str) -> None:
    group = (await nova.ok("POST", "/v2.1/os-server-groups", alice, json={
        "server_group": {"name": "g", "policy": "anti-affinity"}}))["server_group"]
    body = _req(public_image)
    body["os:scheduler_hints"] = {"group": group["id"]}
    r = await nova.call("POST", "/v2.1/servers", alice, json=body)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    assert (await nova.server_obj(alice.project_id, sid))["spec"]["group"] == group["id"]
    show = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice))["server"]
    assert show["server_groups"] == [group["id"]]
    assert show["scheduler_hints"] == {"group": [group["id"]]}
    g = (await nova.ok("GET", f"/v2.1/os-server-groups/{group['id']}", alice))["server_group"]
    assert g["members"] == [sid]
    bob = await nova.tenant("beta")
    body = _req(public_image)
    body["os:scheduler_hints"] = {"group": group["id"]}
    r = await nova.call("POST", "/v2.1/servers", bob, json=body)
    assert r.status_code == 400
    assert f"Instance group {group['id']} could not be found." in r.text
    assert await nova.servers(bob.project_id) == []


async def test_availability_zone_of_a_host(nova: Nova, alice: Tenant, public_image: str) -> None:
    await nova.host("h1", az="zone-a")
    await nova.boot(alice, public_image, availability_zone="zone-a")
    await nova.host("h2", az="zone-b", enabled=False)
    r = await nova.call("POST", "/v2.1/servers", alice,
                        json=_req(public_image, availability_zone="zone-b"))
    assert r.status_code == 400


async def test_reader_cannot_create(nova: Nova, public_image: str) -> None:
    reader = await nova.tenant("ro", role="reader")
    r = await nova.call("POST", "/v2.1/servers", reader, json=_req(public_image))
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:servers:create to be performed.")
