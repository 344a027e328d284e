"""createImage and suspend/resume through the real face, scheduler and agent (fake driver).

The snapshot's bytes travel as they do in production: the agent's driver writes the
flattened disk, the agent streams it into the queued image over the image API.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from kumo.drivers.compute import ControlFailed
from kumo.drivers.imagecache import ImageCache
from kumo.model import compute as cm

from ..control import test_error_recovery as er
from .conftest import Nova, Tenant


@pytest.fixture
def plane(plane_base: er.Plane, tmp_path: Path) -> er.Plane:
    """The in-process control plane with a host agent on the fake driver, and its cache dir."""
    plane_base.agent.images.cache = ImageCache(tmp_path / "agent" / "images")  # type: ignore[attr-defined]
    return plane_base


plane_base = pytest.fixture(er.plane.__wrapped__, name="plane_base")  # type: ignore[attr-defined]


async def _act(nova: Nova, who: Tenant, sid: str, body: dict[str, Any], version: str = "2.45"
               ) -> Any:
    return await nova.call("POST", f"/v2.1/servers/{sid}/action", who, json=body,
                           version=version)


async def _image(nova: Nova, who: Tenant, image_id: str) -> Any:
    r = await nova.client.get(f"/image/v2/images/{image_id}", headers={"X-Auth-Token": who.token})
    return r.json() if r.status_code == 200 else r.status_code


async def _wait_image(nova: Nova, who: Tenant, image_id: str, want: Any) -> Any:
    deadline = time.time() + 10
    while (img := await _image(nova, who, image_id)) != want and (
            not isinstance(img, dict) or img["status"] != want):
        assert time.time() < deadline, f"image {image_id} is {img}"
        await asyncio.sleep(0.05)
    return img


async def _wait_no_task(nova: Nova, who: Tenant, sid: str) -> Any:
    deadline = time.time() + 10
    while (s := (await nova.ok("GET", f"/v2.1/servers/{sid}", who))["server"]
           )["OS-EXT-STS:task_state"] is not None:
        assert time.time() < deadline, f"{sid} stuck in {s['OS-EXT-STS:task_state']}"
        await asyncio.sleep(0.05)
    return s


async def test_create_image_uploads_the_disk_and_boots(plane: er.Plane, alice: Tenant,
                                                       public_image: str) -> None:
    nova = plane.nova
    sid = await nova.boot(alice, public_image)
    await plane.wait_status(alice, sid, "ACTIVE")
    r = await _act(nova, alice, sid, {"createImage": {"name": "snap-1",
                                                      "metadata": {"purpose": "backup"}}})
    assert r.status_code == 202, r.text
    image_id = r.json()["image_id"]
    img = await _wait_image(nova, alice, image_id, "active")
    assert img["owner"] == alice.project_id and img["visibility"] == "private"
    assert img["disk_format"] == "qcow2" and img["container_format"] == "bare"
    assert img["image_type"] == "snapshot" and img["instance_uuid"] == sid
    assert img["base_image_ref"] == public_image and img["purpose"] == "backup"
    data = await nova.client.get(f"/image/v2/images/{image_id}/file",
                                 headers={"X-Auth-Token": alice.token})
    assert data.content == f"fake snapshot of {sid} after 1 boots\n".encode()
    await _wait_no_task(nova, alice, sid)  # the agent clears it right after the upload
    st = (await nova.server_obj(alice.project_id, sid))["status"]
    assert st["observedSnapshotNonce"] == 1
    events = [e["spec"]["reason"] if "reason" in e.get("spec", {}) else e.get("reason")
              for e in (await nova.objects.list("Event", alice.project_id)).items]
    assert "Snapshotted" in events and "SnapshotUploaded" in events
    actions = (await nova.ok("GET", f"/v2.1/servers/{sid}/os-instance-actions", alice)
               )["instanceActions"]
    assert "createImage" in [a["action"] for a in actions]
    # the snapshot boots a new server
    second = await nova.boot(alice, image_id, name="from-snap")
    await plane.wait_status(alice, second, "ACTIVE")
    assert plane.driver.vms[second].spec.image_path is not None


async def test_create_image_old_microversion_and_state_checks(plane: er.Plane, alice: Tenant,
                                                               public_image: str) -> None:
    nova = plane.nova
    sid = await nova.boot(alice, public_image)
    await plane.wait_status(alice, sid, "ACTIVE")
    r = await _act(nova, alice, sid, {"createImage": {"name": "old"}}, version="2.1")
    assert r.status_code == 202 and r.content == b""
    image_id = r.headers["location"].rsplit("/", 1)[1]
    assert r.headers["location"].endswith(f"/image/v2/images/{image_id}")
    await _wait_image(nova, alice, image_id, "active")
    bad = await _act(nova, alice, sid, {"createImage": {"metadata": {}}})
    assert bad.status_code == 400
    # a server still building refuses, and no image is left behind
    before = len((await nova.objects.list("Image", "")).items)
    building = await nova.boot(alice, public_image, name="b")
    obj = await nova.server_obj(alice.project_id, building)
    if (obj.get("status") or {}).get("vmState") in (None, "building"):
        r = await _act(nova, alice, building, {"createImage": {"name": "x"}})
        assert r.status_code == 409
        assert len((await nova.objects.list("Image", "")).items) == before
    await plane.wait_status(alice, building, "ACTIVE")  # no teardown in the middle of a build


async def test_failed_snapshot_deletes_image_and_clears_task(plane: er.Plane, alice: Tenant,
                                                             public_image: str) -> None:
    nova = plane.nova
    sid = await nova.boot(alice, public_image)
    await plane.wait_status(alice, sid, "ACTIVE")

    async def broken(vm_id: str, dest: Any) -> None:
        raise ControlFailed("disk gone")

    plane.driver.snapshot = broken  # type: ignore[method-assign]
    r = await _act(nova, alice, sid, {"createImage": {"name": "doomed"}})
    image_id = r.json()["image_id"]
    assert await _wait_image(nova, alice, image_id, 404) == 404
    s = await _wait_no_task(nova, alice, sid)
    assert s["status"] == "ACTIVE"


async def test_suspend_and_resume(plane: er.Plane, alice: Tenant, public_image: str) -> None:
    nova = plane.nova
    sid = await nova.boot(alice, public_image)
    await plane.wait_status(alice, sid, "ACTIVE")
    assert (await _act(nova, alice, sid, {"resume": None})).status_code == 409
    assert (await _act(nova, alice, sid, {"suspend": None})).status_code == 202
    await plane.wait_status(alice, sid, "SUSPENDED")
    assert plane.driver.vms[sid].power == "paused"
    r = await _act(nova, alice, sid, {"suspend": None})
    assert r.status_code == 409 and "vm_state suspended" in r.text
    assert (await _act(nova, alice, sid, {"pause": None})).status_code == 409
    assert (await _act(nova, alice, sid, {"resume": None})).status_code == 202
    await plane.wait_status(alice, sid, "ACTIVE")
    assert plane.driver.vms[sid].power == "running"
    obj = await nova.server_obj(alice.project_id, sid)
    assert obj["status"]["powerState"] == cm.RUNNING


async def test_create_backup_rotates(plane: er.Plane, alice: Tenant, public_image: str) -> None:
    nova = plane.nova
    sid = await nova.boot(alice, public_image)
    await plane.wait_status(alice, sid, "ACTIVE")
    bad = await _act(nova, alice, sid, {"createBackup": {"name": "b", "backup_type": "daily",
                                                         "rotation": -1}})
    assert bad.status_code == 400
    ids = []
    for n in range(3):
        r = await _act(nova, alice, sid, {"createBackup": {
            "name": f"b{n}", "backup_type": "daily", "rotation": 2}})
        assert r.status_code == 202, r.text
        ids.append(r.json()["image_id"])
        img = await _wait_image(nova, alice, ids[-1], "active")
        assert img["image_type"] == "backup" and img["backup_type"] == "daily"
        await _wait_no_task(nova, alice, sid)
    assert await _image(nova, alice, ids[0]) == 404  # the oldest went with the third
    for kept in ids[1:]:
        assert isinstance(await _image(nova, alice, kept), dict)
