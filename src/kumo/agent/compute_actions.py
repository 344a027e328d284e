"""Server actions the agent carries out beside power and reboot: snapshots, suspend.

Snapshot (``spec.snapshot.nonce`` newer than ``status.observedSnapshotNonce``):
task_state image_snapshot → image_uploading; the driver flattens the VM's disk
into one qcow2 file in the agent's state dir, which is streamed into the
queued Glance image (``PUT /image/v2/images/{id}/file`` makes it active) and
removed. A failed snapshot deletes the image, as Nova does, and the nonce is
marked observed either way so the server leaves its task state.

Suspend is QMP ``stop`` with vm_state ``suspended`` (RAM stays in QEMU, unlike
Nova's libvirt managed save); resume is ``cont``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from kumo.client import ApiClient
from kumo.common import clock, errors
from kumo.drivers import compute as drv
from kumo.model import compute as cm

log = logging.getLogger("kumo.agent.compute")
Obj = dict[str, Any]
CHUNK = 1 << 20


class ServerReconciler(Protocol):
    """What these steps use of the agent's server reconciler (agent.compute)."""

    api: ApiClient
    driver: drv.ComputeDriver

    async def event(self, server: Obj, reason: str, message: str, *,
                    start: str | None = None, warning: bool = False) -> None: ...

    async def patch_status(self, server: Obj, status: Obj) -> Obj: ...


def snapshot_pending(server: Obj) -> bool:
    st = server.get("status") or {}
    return cm.nonce(server["spec"], "snapshot") > int(st.get("observedSnapshotNonce", 0))


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while data := f.read(CHUNK):
            yield data


async def _upload(rec: ServerReconciler, image_id: str, path: Path) -> None:
    api = rec.api
    url = f"{api.base}/image/v2/images/{image_id}/file"
    r = await api.request("PUT", url, content=_chunks(path), headers={
        "Content-Type": "application/octet-stream",
        "Content-Length": str(path.stat().st_size)})
    api._raise(r)


async def _discard_image(rec: ServerReconciler, image_id: str) -> None:
    try:
        r = await rec.api.request("DELETE", f"{rec.api.base}/image/v2/images/{image_id}")
        if r.status_code not in (204, 404):
            log.warning("could not delete failed snapshot image %s: %s", image_id, r.text[:200])
    except Exception as exc:  # the image stays queued; the user may delete it
        log.warning("could not delete failed snapshot image %s: %s", image_id, exc)


async def converge_snapshot(rec: ServerReconciler, server: Obj, work_dir: Path) -> None:
    """Take the snapshot the spec asks for, upload it, and mark the nonce observed."""
    name = server["metadata"]["name"]
    snap = server["spec"]["snapshot"]
    image_id = str(snap.get("imageId") or "")
    t0 = clock.now_iso()
    await rec.patch_status(server, {"taskState": "image_snapshot"})
    work_dir.mkdir(parents=True, exist_ok=True)
    dest = work_dir / f"{drv.validate_id(name)}.snapshot.qcow2"
    try:
        drv.validate_id(image_id, "image id")
        await rec.driver.snapshot(name, dest)
        await rec.event(server, "Snapshotted", f"disk flattened to qcow2 "
                        f"({dest.stat().st_size} bytes)", start=t0)
        await rec.patch_status(server, {"taskState": "image_uploading"})
        t1 = clock.now_iso()
        await _upload(rec, image_id, dest)
        await rec.event(server, "SnapshotUploaded", f"image {image_id} is active", start=t1)
        if snap.get("backup"):
            await rotate_backups(rec, server, snap["backup"])
    except (drv.DriverError, errors.StoreError, OSError) as exc:
        log.warning("snapshot of %s failed: %s", name, exc)
        await rec.event(server, "SnapshotFailed", f"{type(exc).__name__}: {exc}", start=t0,
                        warning=True)
        await _discard_image(rec, image_id)
    finally:
        if dest.exists():
            os.unlink(dest)
    await rec.patch_status(server, {"taskState": None,
                                    "observedSnapshotNonce": int(snap.get("nonce", 0))})


async def rotate_backups(rec: ServerReconciler, server: Obj, backup: Obj) -> None:
    """Delete this server's oldest active backups of one type beyond ``rotation``."""
    params = {"instance_uuid": server["metadata"]["name"], "image_type": "backup",
              "backup_type": str(backup.get("type")), "status": "active",
              "sort_key": "created_at", "sort_dir": "desc", "limit": "1000"}
    r = await rec.api.request("GET", f"{rec.api.base}/image/v2/images", params=params)
    rec.api._raise(r)
    images = r.json().get("images") or []
    for image in images[max(0, int(backup.get("rotation") or 0)):]:
        await _discard_image(rec, image["id"])
        await rec.event(server, "BackupRotated", f"old backup {image['id']} deleted")


async def converge_suspend(rec: ServerReconciler, server: Obj, state: drv.VMState) -> None:
    """spec.power "suspended": stop the running guest (resume is unpause's path)."""
    if server["spec"].get("power") != "suspended" or state.power != drv.Power.RUNNING:
        return
    t0 = clock.now_iso()
    await rec.patch_status(server, {"taskState": "suspending"})
    await rec.driver.pause(server["metadata"]["name"])
    await rec.event(server, "Suspended", "server suspended", start=t0)


def reported_vm_state(server: Obj, vm_state: str) -> str:
    """A paused VM whose spec asks for "suspended" is SUSPENDED, not PAUSED."""
    if vm_state == "paused" and server["spec"].get("power") == "suspended":
        return "suspended"
    return vm_state
