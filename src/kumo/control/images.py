"""Upload reaper: images left ``saving`` by a dead uploader go back to ``queued``.

An API process killed mid-upload leaves its image ``saving`` forever, which Glance
neither downloads nor lets anyone upload to. This controller watches Images; a
``saving`` image whose upload heartbeat stopped (``kumo.core.images.abandoned``) is
reset to ``queued`` with an ``UploadAbandoned`` Event, and the partial data the dead
uploader left under ``blobs/tmp`` is removed. A still-beating upload is looked at again
when it would expire, so after a restart the image is usable within
``ABANDONED_AFTER`` of the crash.

It also collects blob files no image references (``collect_blobs``, at start and every
sweep): an upload killed between renaming its blob into place and writing the image
(or an image delete killed before its blob delete) leaves one. Only blobs not written
for ``BLOB_GRACE`` go, so a blob whose upload is committing its image is never hit.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Protocol

from kumo import store
from kumo.common.informer import Informer
from kumo.common.reconciler import Controller, Requeue
from kumo.config import Config
from kumo.core import images
from kumo.model import events
from kumo.model.image import IMAGE
from kumo.store.blobs import discard_partial, old_blobs, remove_if_old

from .plane import ControlPlane

log = logging.getLogger("kumo.control.images")
COMPONENT = "image-upload-reaper"
SWEEP_SECONDS = 60.0
BLOB_GRACE = 3600.0
Obj = dict[str, Any]


class ImagePlane(ControlPlane, Protocol):
    config: Config


class UploadReaper:
    def __init__(self, objects: store.ObjectStore, blob_root: Path,
                 abandoned_after: float = images.ABANDONED_AFTER) -> None:
        self.objects = objects
        self.blob_root = blob_root
        self.after = abandoned_after
        self.controller = Controller("image-upload-reaper", self.reconcile)
        self.informer = Informer(store.StoreSource(objects, IMAGE), on_event=self._on_event,
                                 on_sync=self._on_sync)
        self.reset = 0
        self.blobs_removed = 0

    async def reconcile(self, key: tuple[str, str]) -> Requeue | None:
        obj = await self.objects.try_get(IMAGE, "", key[1])
        if obj is None or (obj.get("status") or {}).get("state") != "saving":
            return None
        if not images.abandoned(obj, after=self.after):
            return Requeue(images.abandoned_in(obj, after=self.after) + 0.1)

        done: list[bool] = []

        def back_to_queued(current: Obj) -> object:
            done.clear()
            if not images.abandoned(current, after=self.after):
                return store.UNCHANGED  # the upload beat (or ended) meanwhile
            images.reset(current)
            done.append(True)
            return None

        saved = await self.objects.mutate(IMAGE, "", key[1], back_to_queued, current=obj)
        if not done:
            return Requeue(0.1)  # look again: still saving is requeued, anything else ends
        removed = await asyncio.to_thread(discard_partial, self.blob_root, key[1])
        self.reset += 1
        log.warning("image %s: upload by %s abandoned; queued again (%d partial files removed)",
                    key[1], images.uploader_of(obj), removed)
        await events.record(self.objects, saved, COMPONENT, "UploadAbandoned",
                            f"The upload stopped (uploader {images.uploader_of(obj)} gone); "
                            "the image is queued again and its partial data was discarded.",
                            type_="Warning")
        return None

    def _on_event(self, typ: str, obj: Obj) -> None:
        if typ != "DELETED" and (obj.get("status") or {}).get("state") == "saving":
            self.controller.enqueue(("", obj["metadata"]["name"]))

    def _on_sync(self, items: list[Obj]) -> None:
        for obj in items:
            self._on_event("ADDED", obj)

    async def _sweep(self) -> None:
        """A slow periodic look at every image, should a watch event be missed, and at
        the blob files (first at start)."""
        while True:
            try:
                self.blobs_removed += await collect_blobs(self.objects, self.blob_root)
            except (OSError, store.StoreError):
                log.exception("blob collection failed")
            await asyncio.sleep(SWEEP_SECONDS)
            self._on_sync(self.informer.values())

    async def run(self) -> None:
        await asyncio.gather(self.controller.run(), self.informer.run(), self._sweep())

    def debug_state(self) -> dict[str, Any]:
        return {**self.controller.debug_state(), "reset": self.reset,
                "blobs_removed": self.blobs_removed}


async def collect_blobs(objects: store.ObjectStore, blob_root: Path,
                        grace: float = BLOB_GRACE) -> int:
    """Remove blob files older than ``grace`` that no image references; how many."""
    if not blob_root.is_dir():
        return 0
    old = await asyncio.to_thread(old_blobs, blob_root, grace)
    if not old:
        return 0
    used = {(i.get("status") or {}).get("blob") for i in (await objects.list(IMAGE)).items}
    removed = 0
    for sha in old:
        if sha not in used and await asyncio.to_thread(remove_if_old, blob_root, sha, grace):
            removed += 1
            log.warning("blob %s: no image references it; removed", sha)
    return removed


async def run(rt: ImagePlane) -> None:
    reaper = UploadReaper(rt.objects, rt.config.data_dir / "blobs")
    rt.debug_providers["image_upload_reaper"] = reaper.debug_state
    await reaper.run()
