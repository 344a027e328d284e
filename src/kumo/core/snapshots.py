"""A server snapshot's Glance image, as Nova's compute API makes it before the upload.

The compute face creates the image (``queued``) in the same request as the
snapshot action so it can answer with the image id; the host agent then
streams the VM's flattened disk into it through the image API, which turns it
``active``. The image inherits the base image's properties (kernel, ramdisk,
command line, os_*), minus those that describe one image only, as Nova's
``initialize_instance_snapshot_metadata`` does, so the snapshot boots alike.
"""

from __future__ import annotations

from typing import Any

from kumo.common.clock import now_iso
from kumo.model.image import IMAGE

Obj = dict[str, Any]
NOT_INHERITED = frozenset({
    "image_type", "instance_uuid", "base_image_ref", "image_location", "image_state",
    "owner_id", "user_id", "os_glance_importing_to_stores", "os_glance_failed_import",
    "os_glance_import_task", "stores", "block_device_mapping", "bdm_v2", "root_device_name"})


def snapshot_properties(server: Obj, user_id: str | None, extra: dict[str, str]) -> dict[str, str]:
    """Properties of the snapshot image: inherited, then Nova's own, then the request's."""
    base = server["spec"].get("image") or {}
    props = {k: str(v) for k, v in (base.get("properties") or {}).items()
             if k not in NOT_INHERITED and not k.startswith("os_glance")}
    props.update({"image_type": "snapshot", "instance_uuid": server["metadata"]["name"],
                  "base_image_ref": str(base.get("id") or ""), "owner_id":
                  server["metadata"]["namespace"], "user_id": user_id or ""})
    props.update(extra)
    return props


def snapshot_image(image_id: str, name: str, server: Obj, user_id: str | None,
                   extra: dict[str, str]) -> Obj:
    """The queued Image object of a snapshot (same shape as the image face's images)."""
    owner = server["metadata"]["namespace"]
    flavor = server["spec"].get("flavor") or {}
    base = server["spec"].get("image") or {}
    base_props = base.get("properties") or {}
    spec = {"name": name, "owner": owner, "visibility": "private", "protected": False,
            "osHidden": False, "diskFormat": "qcow2", "containerFormat": "bare",
            "minDisk": max(int(flavor.get("disk") or 0), int(base.get("minDisk") or 0)),
            "minRam": int(base.get("minRam") or base_props.get("min_ram") or 0),
            "tags": [], "properties": snapshot_properties(server, user_id, extra),
            "members": {}, "memberTimes": {}}
    return {"apiVersion": "kumo.io/v1", "kind": IMAGE,
            "metadata": {"name": image_id, "namespace": "",
                         "labels": {"owner": owner, "visibility": "private"}},
            "spec": spec, "status": {"state": "queued", "updatedAt": now_iso()}}
