"""Uploads abandoned by a dead API process go back to ``queued``; live ones are left alone."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator

from kumo.control import images as control_images
from kumo.control.images import UploadReaper
from kumo.core import images
from kumo.model.image import IMAGE

from .conftest import Glance


def _saving(uploader: str, beat: float) -> dict:
    return {"metadata": {"name": "i", "annotations": {images.UPLOADER: uploader,
                                                       images.HEARTBEAT: f"{beat}"}},
            "status": {"state": "saving"}}


def test_the_rule_is_a_stopped_heartbeat() -> None:
    now = time.time()
    assert not images.abandoned(_saving("other/1/x", now - 1), now)
    assert images.abandoned(_saving("other/1/x", now - images.ABANDONED_AFTER - 1), now)
    assert images.abandoned_in(_saving("x", now - 1), now) == images.ABANDONED_AFTER - 1
    old = _saving("x", 0)
    old["status"]["state"] = "active"
    assert not images.abandoned(old, now)  # only saving images are ever reset
    legacy = {"metadata": {"name": "i"}, "status": {
        "state": "saving", "uploadStartedAt": "2020-01-01T00:00:00.000000Z"}}
    assert images.abandoned(legacy, now)  # saving from before heartbeats: by its start


async def _crashed_upload(glance: Glance, token: str) -> str:
    """An image as a killed API process leaves it: saving, a stale beat, a partial file."""
    iid = (await glance.create(token, name="crashed"))["id"]

    def crashed(obj: dict) -> None:
        obj["status"]["state"] = "saving"
        images.begin_upload(obj, "dead-host/4242/cafe", time.time() - 60)

    await glance.rt.objects.mutate(IMAGE, "", iid, crashed)
    tmp = glance.rt.config.data_dir / "blobs" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / f"{iid}.0123abcd.part").write_bytes(b"partial")
    (tmp / "someone-else.0123abcd.part").write_bytes(b"not ours")
    return iid


async def test_abandoned_upload_is_queued_again_and_can_be_redone(glance: Glance,
                                                                  member) -> None:
    _, token = member
    iid = await _crashed_upload(glance, token)
    reaper = UploadReaper(glance.rt.objects, glance.rt.config.data_dir / "blobs")
    assert await reaper.reconcile(("", iid)) is None
    shown = await glance.show(token, iid)
    assert shown["status"] == "queued" and shown["size"] is None and shown["checksum"] is None
    obj = await glance.rt.objects.get(IMAGE, "", iid)
    assert images.uploader_of(obj) is None
    assert [p.name for p in glance.temp_files()] == ["someone-else.0123abcd.part"]
    evs = [e for e in (await glance.rt.objects.list("Event", "")).items
           if e["involvedObject"]["name"] == iid]
    assert [e["reason"] for e in evs] == ["UploadAbandoned"]

    data = b"fresh data " * 1000
    r = await glance.upload(token, iid, data)
    assert r.status_code == 204, r.text
    shown = await glance.show(token, iid)
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(data).hexdigest()


async def test_a_beating_upload_is_left_alone(glance: Glance, member, monkeypatch) -> None:
    monkeypatch.setattr(images, "HEARTBEAT_SECONDS", 0.1)
    _, token = member
    iid = (await glance.create(token, name="slow"))["id"]
    reaper = UploadReaper(glance.rt.objects, glance.rt.config.data_dir / "blobs",
                          abandoned_after=0.5)
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        await release.wait()
        yield b"b" * 1000

    upload = asyncio.create_task(glance.upload(token, iid, slow()))
    for _ in range(100):
        if (await glance.show(token, iid))["status"] == "saving":
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)  # twice the reaper's limit: only the heartbeat keeps it saving
    again = await reaper.reconcile(("", iid))
    assert again is not None and again.after <= 0.6
    assert (await glance.show(token, iid))["status"] == "saving"
    release.set()
    assert (await upload).status_code == 204
    assert (await glance.show(token, iid))["status"] == "active"
    assert await reaper.reconcile(("", iid)) is None
    assert images.uploader_of(await glance.rt.objects.get(IMAGE, "", iid)) is None


async def test_a_blob_no_image_references_is_collected(glance: Glance, member) -> None:
    """A crash between an upload's blob rename and its image write leaves a blob file
    nothing references; before, it stayed forever. Old unreferenced blobs go; a young one
    (an upload committing right now) and every referenced one stay."""
    _, token = member
    iid = (await glance.create(token, name="kept"))["id"]
    data = b"referenced " * 100
    assert (await glance.upload(token, iid, data)).status_code == 204
    root = glance.rt.config.data_dir / "blobs"
    kept = hashlib.sha256(data).hexdigest()
    orphan, young = (hashlib.sha256(x).hexdigest() for x in (b"crashed upload", b"just now"))
    for sha in (orphan, young):
        (root / sha[:2]).mkdir(exist_ok=True)
        (root / sha[:2] / sha).write_bytes(b"x")
    old = time.time() - control_images.BLOB_GRACE - 10
    for sha in (orphan, kept):
        os.utime(root / sha[:2] / sha, (old, old))
    assert await control_images.collect_blobs(glance.rt.objects, root) == 1
    assert not (root / orphan[:2] / orphan).exists()
    assert (root / young[:2] / young).exists() and (root / kept[:2] / kept).exists()
    r = await glance.client.get(f"/image/v2/images/{iid}/file",
                                headers={"X-Auth-Token": token})
    assert r.status_code == 200 and r.content == data
