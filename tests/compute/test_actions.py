"""Server actions become spec changes; Nova's state checks, locks, delete, console."""

from __future__ import annotations

from typing import Any

import pytest

from kumo import store
from kumo.model import compute as cm
from kumo.model import events

from .conftest import Nova, Tenant


async def act(nova: Nova, who: Tenant, sid: str, body: dict[str, Any], **kw: Any) -> Any:
    return await nova.call("POST", f"/v2.1/servers/{sid}/action", who, json=body, **kw)


async def spec(nova: Nova, who: Tenant, sid: str) -> dict[str, Any]:
    return (await nova.server_obj(who.project_id, sid))["spec"]


async def status_of(nova: Nova, who: Tenant, sid: str) -> tuple[str, Any]:
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", who))["server"]
    return s["status"], s["OS-EXT-STS:task_state"]


async def test_power_actions_change_spec(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    r = await act(nova, alice, sid, {"os-stop": None}, headers={"X-Openstack-Request-Id": "r-1"})
    assert r.status_code == 202 and r.content == b""
    s = await spec(nova, alice, sid)
    assert s["power"] == "off" and s["requestId"] == "r-1"
    assert await status_of(nova, alice, sid) == ("ACTIVE", "powering-off")
    r = await act(nova, alice, sid, {"os-stop": None})
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == (
        f"Cannot 'stop' instance {sid} while it is in task_state powering-off")
    await nova.play_agent(alice.project_id, sid, vmState="stopped", powerState=cm.SHUTDOWN)
    assert await status_of(nova, alice, sid) == ("SHUTOFF", None)
    r = await act(nova, alice, sid, {"os-stop": None})
    assert r.status_code == 409
    assert f"Cannot 'stop' instance {sid} while it is in vm_state stopped" in r.text
    assert (await act(nova, alice, sid, {"os-start": None})).status_code == 202
    assert (await spec(nova, alice, sid))["power"] == "on"
    assert await status_of(nova, alice, sid) == ("SHUTOFF", "powering-on")
    await nova.play_agent(alice.project_id, sid)
    assert (await act(nova, alice, sid, {"pause": None})).status_code == 202
    assert (await spec(nova, alice, sid))["power"] == "paused"
    await nova.play_agent(alice.project_id, sid, vmState="paused", powerState=cm.PAUSED)
    assert await status_of(nova, alice, sid) == ("PAUSED", None)
    assert (await act(nova, alice, sid, {"pause": None})).status_code == 409
    assert (await act(nova, alice, sid, {"unpause": None})).status_code == 202
    assert (await spec(nova, alice, sid))["power"] == "on"


async def test_reboot(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    assert (await act(nova, alice, sid, {"reboot": {"type": "SOFT"}})).status_code == 202
    s = await spec(nova, alice, sid)
    assert s["reboot"] == {"nonce": 1, "type": "SOFT"}
    assert await status_of(nova, alice, sid) == ("REBOOT", "rebooting")
    r = await act(nova, alice, sid, {"reboot": {"type": "SOFT"}})
    assert r.status_code == 409 and "task_state rebooting" in r.text
    assert (await act(nova, alice, sid, {"reboot": {"type": "hard"}})).status_code == 202
    assert (await spec(nova, alice, sid))["reboot"] == {"nonce": 2, "type": "HARD"}
    assert await status_of(nova, alice, sid) == ("HARD_REBOOT", "rebooting_hard")
    r = await act(nova, alice, sid, {"reboot": {"type": "sideways"}})
    assert r.status_code == 400 and "is not one of" in r.text
    r = await act(nova, alice, sid, {"reboot": {}})
    assert r.status_code == 400 and "'type' is a required property" in r.text
    await nova.play_agent(alice.project_id, sid, vmState="stopped", powerState=cm.SHUTDOWN)
    assert (await act(nova, alice, sid, {"reboot": {"type": "SOFT"}})).status_code == 409
    assert (await act(nova, alice, sid, {"reboot": {"type": "HARD"}})).status_code == 202
    assert (await spec(nova, alice, sid))["power"] == "on"


async def test_wrong_state_while_building(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.boot(alice, public_image)
    for body, name in (({"os-stop": None}, "stop"), ({"os-start": None}, "start"),
                       ({"pause": None}, "pause"), ({"reboot": {"type": "SOFT"}}, "reboot")):
        r = await act(nova, alice, sid, body)
        assert r.status_code == 409
        assert r.json()["conflictingRequest"]["message"] == (
            f"Cannot '{name}' instance {sid} while it is in vm_state building")
    r = await act(nova, alice, sid, {"os-getConsoleOutput": {}})
    assert r.status_code == 409 and "is not ready" in r.text
    assert (await act(nova, alice, sid, {"shelve": None})).status_code == 400
    r = await act(nova, alice, sid, {"resize": {}, "reboot": {}})
    assert r.status_code == 400


async def test_lock(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    r = await act(nova, alice, sid, {"lock": {"locked_reason": "maintenance"}})
    assert r.status_code == 202
    assert (await spec(nova, alice, sid))["locked"] == {"by": "owner", "reason": "maintenance"}
    show = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice))["server"]
    assert show["locked"] is True and show["locked_reason"] == "maintenance"
    for body in ({"os-stop": None}, {"reboot": {"type": "HARD"}}, {"pause": None},
                 {"rebuild": {"imageRef": public_image}}):
        r = await act(nova, alice, sid, body)
        assert r.status_code == 409
        assert r.json()["conflictingRequest"]["message"] == f"Instance {sid} is locked"
    r = await nova.call("DELETE", f"/v2.1/servers/{sid}", alice)
    assert r.status_code == 409
    r = await nova.call("POST", f"/v2.1/servers/{sid}/metadata", alice,
                        json={"metadata": {"a": "b"}})
    assert r.status_code == 409
    admin = await nova.admin()
    assert (await act(nova, admin, sid, {"os-stop": None})).status_code == 202
    assert (await act(nova, alice, sid, {"unlock": None})).status_code == 202
    assert (await spec(nova, alice, sid))["locked"] is None
    assert (await act(nova, admin, sid, {"lock": None})).status_code == 202
    r = await act(nova, alice, sid, {"unlock": None})
    assert r.status_code == 403 and "unlock_override" in r.text
    assert (await act(nova, admin, sid, {"unlock": None})).status_code == 202
    r = await act(nova, alice, sid, {"lock": {"locked_reason": "x"}}, version="2.72")
    assert r.status_code == 400


async def test_rebuild(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    other = await nova.image(alice.project_id, visibility="private")
    r = await act(nova, alice, sid, {"rebuild": {
        "imageRef": other, "name": "renamed", "metadata": {"v": "2"}, "user_data": "aGk=",
        "description": "rebuilt"}})
    assert r.status_code == 202, r.text
    view = r.json()["server"]
    assert view["status"] == "REBUILD" and view["name"] == "renamed"
    assert view["image"]["id"] == other and view["user_data"] == "aGk="
    s = await spec(nova, alice, sid)
    assert s["rebuild"]["nonce"] == 1 and s["rebuild"]["image"]["id"] == other
    assert s["image"]["id"] == other and s["metadata"] == {"v": "2"}
    assert s["userData"] == "aGk=" and s["description"] == "rebuilt"
    assert (await act(nova, alice, sid, {"rebuild": {"imageRef": other}})).status_code == 409
    await nova.play_agent(alice.project_id, sid)
    queued = await nova.image(alice.project_id, state="saving")
    r = await act(nova, alice, sid, {"rebuild": {"imageRef": queued}})
    assert r.status_code == 400 and "is not active" in r.text
    r = await act(nova, alice, sid, {"rebuild": {"imageRef": "00000000-0000-0000-0000-0000000000"
                                                             "00"}})
    assert r.status_code == 400 and "Cannot find image for rebuild" in r.text
    r = await act(nova, alice, sid, {"rebuild": {}})
    assert r.status_code == 400 and "'imageRef' is a required property" in r.text
    r = await act(nova, alice, sid, {"rebuild": {"imageRef": other, "user_data": "aGk="}},
                  version="2.56")
    assert r.status_code == 400 and "'user_data' was unexpected" in r.text
    assert (await spec(nova, alice, sid))["rebuild"]["nonce"] == 1


async def test_delete_lifecycle(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    r = await nova.call("DELETE", f"/v2.1/servers/{sid}", alice,
                        headers={"X-Openstack-Request-Id": "req-del"})
    assert r.status_code == 204
    obj = await nova.server_obj(alice.project_id, sid)
    assert obj["metadata"]["deletionTimestamp"] and obj["spec"]["requestId"] == "req-del"
    show = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice))["server"]
    assert show["status"] == "DELETED" and show["OS-EXT-STS:task_state"] == "deleting"
    assert (await nova.call("DELETE", f"/v2.1/servers/{sid}", alice)).status_code == 204
    assert (await act(nova, alice, sid, {"os-stop": None})).status_code == 409
    listed = (await nova.ok("GET", "/v2.1/servers/detail", alice))["servers"]
    assert [s["status"] for s in listed] == ["DELETED"]
    await nova.release(alice.project_id, sid)
    r = await nova.call("GET", f"/v2.1/servers/{sid}", alice)
    assert r.status_code == 404
    assert (await nova.call("DELETE", f"/v2.1/servers/{sid}", alice)).status_code == 404


async def test_delete_unbound_server_is_immediate(nova: Nova, alice: Tenant,
                                                  public_image: str) -> None:
    sid = await nova.boot(alice, public_image)
    assert (await nova.call("DELETE", f"/v2.1/servers/{sid}", alice)).status_code == 204
    assert (await nova.call("GET", f"/v2.1/servers/{sid}", alice)).status_code == 404


async def test_console_output(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    r = await act(nova, alice, sid, {"os-getConsoleOutput": {"length": 2}})
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == "Guest does not have a console available."
    await nova.objects.create({"kind": cm.CONSOLE_LOG, "metadata": {
        "name": sid, "namespace": alice.project_id},
        "spec": {"text": "one\ntwo\x07\nthree\nkumo-tiny booted\n", "updated": store.now_iso()}})
    r = await act(nova, alice, sid, {"os-getConsoleOutput": {"length": 2}})
    assert r.json() == {"output": "three\nkumo-tiny booted\n"}
    r = await act(nova, alice, sid, {"os-getConsoleOutput": {"length": "-1"}})
    assert r.json()["output"] == "one\ntwo\nthree\nkumo-tiny booted\n"
    r = await act(nova, alice, sid, {"os-getConsoleOutput": {}})
    assert r.json()["output"].startswith("one\n")
    r = await act(nova, alice, sid, {"os-getConsoleOutput": {"length": "x"}})
    assert r.status_code == 400


async def test_instance_actions_and_events(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.boot(alice, public_image)
    server = await nova.server_obj(alice.project_id, sid)
    create_req = server["spec"]["requestId"]
    await events.record(nova.objects, server, "scheduler", "Scheduled", "bound to host node1",
                        request_id=create_req)
    await nova.play_agent(alice.project_id, sid)
    server = await nova.server_obj(alice.project_id, sid)
    await events.record(nova.objects, server, "compute-agent", "BuildFailed", "boom",
                        type_="Warning", request_id=create_req, extra={"host": "node1"})
    await act(nova, alice, sid, {"os-stop": None}, headers={"X-Openstack-Request-Id": "req-stop"})
    listed = (await nova.ok("GET", f"/v2.1/servers/{sid}/os-instance-actions",
                            alice))["instanceActions"]
    assert [a["action"] for a in listed] == ["stop", "create"]
    assert listed[0]["request_id"] == "req-stop" and listed[0]["user_id"] == alice.user_id
    assert "updated_at" in listed[0]
    shown = (await nova.ok("GET", f"/v2.1/servers/{sid}/os-instance-actions/{create_req}",
                           alice))["instanceAction"]
    assert shown["action"] == "create"
    names = [(e["event"], e["result"]) for e in shown["events"]]
    assert names == [("CreateAccepted", "Success"), ("Scheduled", "Success"),
                     ("BuildFailed", "Error")]
    assert "traceback" not in shown["events"][0] and "hostId" in shown["events"][0]
    admin = await nova.admin()
    as_admin = (await nova.ok("GET", f"/v2.1/servers/{sid}/os-instance-actions/{create_req}",
                              admin))["instanceAction"]
    failed = as_admin["events"][2]
    assert failed["traceback"] == "boom" and failed["details"] == "boom"
    assert failed["host"] == "node1"
    r = await nova.call("GET", f"/v2.1/servers/{sid}/os-instance-actions/req-nope", alice)
    assert r.status_code == 404 and r.json()["itemNotFound"]["message"] == "Action req-nope not found"
    old = (await nova.ok("GET", f"/v2.1/servers/{sid}/os-instance-actions/{create_req}",
                         alice, version="2.50"))["instanceAction"]
    assert "events" not in old


async def test_reader_cannot_act(nova: Nova, alice: Tenant, public_image: str) -> None:
    sid = await nova.active(alice, public_image)
    reader = await nova.user(alice.project_id, "reader")
    r = await act(nova, reader, sid, {"os-stop": None})
    assert r.status_code == 403 and "os_compute_api:servers:stop" in r.text
    assert (await nova.ok("GET", f"/v2.1/servers/{sid}", reader))["server"]["id"] == sid


@pytest.mark.parametrize("version", ["2.1", "2.47", "2.100"])
async def test_error_status_shows_fault(nova: Nova, alice: Tenant, public_image: str,
                                        version: str) -> None:
    sid = await nova.boot(alice, public_image)
    fault = {"code": 500, "message": "No valid host was found.", "details": "trace",
             "created": store.now_iso()}
    await nova.play_agent(alice.project_id, sid, host=None, vmState="error", fault=fault,
                          launchedAt=None)
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", alice, version=version))["server"]
    assert s["status"] == "ERROR" and s["fault"]["message"] == "No valid host was found."
    assert s["fault"]["code"] == 500 and "details" not in s["fault"]
    admin = await nova.admin()
    s = (await nova.ok("GET", f"/v2.1/servers/{sid}", admin, version=version))["server"]
    assert s["fault"]["details"] == "trace"
    assert (await act(nova, alice, sid, {"os-stop": None})).status_code == 409  # never launched
