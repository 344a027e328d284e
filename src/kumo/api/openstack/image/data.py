"""Image data: the upload state machine and the download stream.

Upload: queued → saving (CAS, so one uploader wins) → the stream goes through
``BlobStore.write_stream`` → active with size and hashes. Any failure on the
way (too large, disk full, short or broken stream, crash of the handler)
leaves the image ``killed`` and no temp file; an image is never active
without its complete blob. A blob is deleted once no image references it.
While it streams, the upload renews a heartbeat (``kumo.core.images``): if the
whole process dies, ``kumo.control.images`` puts the image back to ``queued``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response

from kumo import store
from kumo.core import images
from kumo.store.blobs import BlobIncomplete, BlobInfo, BlobStore, BlobTooLarge, StorageFull

from ...errors import ApiError
from ...runtime import Runtime, runtime
from .access import all_images, load, mutate, require_write
from .model import bad, non_negative, state, touch

log = logging.getLogger("kumo.image")

DEFAULT_SIZE_CAP = 1 << 40  # Glance's image_size_cap default: 1 TiB
READ_CHUNK = 8 << 20
_BLOB_STORES: dict[Path, BlobStore] = {}


def blobs(rt: Runtime) -> BlobStore:
    """The process-wide blob store of a runtime's data dir."""
    root = (rt.config.data_dir / "blobs").resolve()
    found = _BLOB_STORES.get(root)
    if found is None:
        found = _BLOB_STORES[root] = BlobStore(root)
        found.cleanup_temp()
    rt.debug_providers.setdefault("image_blobs", found.stats)  # shown in /debug/state
    return found


def use_blob_store(rt: Runtime, blob_store: BlobStore) -> None:
    """Make a runtime use a given blob store (tests inject small disks this way)."""
    _BLOB_STORES[(rt.config.data_dir / "blobs").resolve()] = blob_store


def size_cap(rt: Runtime) -> int:
    return int(getattr(rt.config, "image_size_cap", None) or DEFAULT_SIZE_CAP)


class UploadRefused(ApiError):
    """The data was refused; the image is killed."""


async def drop_blob(rt: Runtime, sha256: str | None) -> None:
    """Delete a blob unless an image still references it."""
    if not sha256:
        return

    async def referenced() -> bool:
        return any((o.get("status") or {}).get("blob") == sha256
                   for o in await all_images(rt.objects))

    await blobs(rt).delete_unless(sha256, referenced)


def _ours(obj: dict[str, Any]) -> bool:
    """Still saving by this process (not reset by the reconciler meanwhile)?"""
    return state(obj) == "saving" and images.uploader_of(obj) in (None, images.PROCESS_UPLOADER)


async def _kill(rt: Runtime, image_id: str) -> None:
    def killed(obj: dict[str, Any]) -> None:
        if not _ours(obj):
            return  # reset to queued by the reconciler: the user may upload again
        images.end_upload(obj)
        obj["status"] = {"state": "killed"}
        touch(obj)

    try:
        await mutate(rt.objects, image_id, killed)
    except ApiError:
        pass  # deleted meanwhile: nothing left to mark


async def _begin(rt: Runtime, image_id: str) -> None:
    def saving(obj: dict[str, Any]) -> None:
        current = state(obj)
        if current != "queued":
            raise ApiError(409, f"Image status transition from {current} to saving is not "
                                "allowed", reason="Conflict")
        spec = obj["spec"]
        if not spec.get("diskFormat") or not spec.get("containerFormat"):
            raise bad("Properties disk_format, container_format must be set prior to "
                      "saving data.")
        obj["status"]["state"] = "saving"
        obj["status"]["uploadStartedAt"] = store.now_iso()
        images.begin_upload(obj)
        touch(obj)

    await mutate(rt.objects, image_id, saving)


async def _beat(rt: Runtime, image_id: str) -> None:
    """Renew this upload's heartbeat while it streams (see kumo.core.images)."""
    def renew(obj: dict[str, Any]) -> None:
        if _ours(obj):
            images.begin_upload(obj)

    while True:
        await asyncio.sleep(images.HEARTBEAT_SECONDS)
        try:
            await mutate(rt.objects, image_id, renew)
        except ApiError:
            return  # deleted meanwhile: the commit will say so


async def _commit(rt: Runtime, image_id: str, info: BlobInfo, final: str = "active"
                  ) -> dict[str, Any]:
    def active(obj: dict[str, Any]) -> None:
        if not _ours(obj):
            raise ApiError(409, f"Image {image_id} changed state during the upload.",
                           reason="Conflict")
        images.end_upload(obj)
        obj["status"] = {"state": final, "checksum": info.md5, "osHashAlgo": "sha512",
                         "osHashValue": info.sha512, "size": info.size, "virtualSize": None,
                         "blob": info.sha256}
        touch(obj)

    return await mutate(rt.objects, image_id, active)


async def store_stream(rt: Runtime, image_id: str, chunks: AsyncIterator[bytes],
                       expected_size: int | None = None, final: str = "active"
                       ) -> dict[str, Any]:
    """Run one upload of a queued image to the end: ``final`` (active, or ``uploading``
    for data staged for an import), or killed and an error."""
    bs = blobs(rt)
    await _begin(rt, image_id)
    beat = asyncio.create_task(_beat(rt, image_id))
    try:
        info = await bs.write_stream(chunks, size_cap(rt), expected_size=expected_size,
                                     tag=image_id)
    except BaseException as exc:
        beat.cancel()
        await asyncio.shield(_kill(rt, image_id))
        refusal = _refusal(exc)
        if refusal is exc:
            raise
        raise refusal from exc
    beat.cancel()
    committed = False
    try:
        result = await _commit(rt, image_id, info, final)
        committed = True
        return result
    except BaseException as exc:
        if isinstance(exc, ApiError) and exc.status == 404:
            raise ApiError(410, f"Image {image_id} could not be found after upload. The "
                                "image may have been deleted during the upload.",
                           reason="Gone") from exc
        await asyncio.shield(_kill(rt, image_id))
        raise
    finally:
        bs.release(info.sha256)
        if not committed:
            await drop_blob(rt, info.sha256)


def _refusal(exc: BaseException) -> BaseException:
    if isinstance(exc, BlobTooLarge):
        return UploadRefused(413, f"The incoming image is too large: {exc}",
                             reason="RequestEntityTooLarge")
    if isinstance(exc, StorageFull):
        return UploadRefused(413, f"Image storage media is full: {exc}",
                             reason="RequestEntityTooLarge")
    if isinstance(exc, BlobIncomplete):
        return UploadRefused(400, f"The image data is incomplete: {exc}", reason="BadRequest")
    if isinstance(exc, ClientDisconnect):
        return UploadRefused(400, "The client disconnected before sending all image data.",
                             reason="BadRequest")
    return exc


def _declared_size(request: Request) -> int | None:
    raw = request.headers.get("x-openstack-image-size") or request.headers.get("content-length")
    if raw is None:
        return None
    message = "Invalid or missing image size in request headers."
    return non_negative(raw, message, message)


async def upload(request: Request) -> Response:
    """PUT /file: the data, and the image is active; PUT /stage: data staged for a
    ``glance-direct`` import (the image is ``uploading`` until imported)."""
    image_id = request.path_params["image_id"]
    ctx, obj = await load(request, image_id)
    require_write(ctx, obj, "upload data to")
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/octet-stream":
        raise ApiError(415, f"Content type {ctype or 'none'} is not supported; use "
                            "application/octet-stream.", reason="UnsupportedMediaType")
    final = "uploading" if request.url.path.endswith("/stage") else "active"
    await store_stream(runtime(request), image_id, request.stream(), _declared_size(request),
                       final)
    return Response(status_code=204)


class BlobResponse(FileResponse):
    """A blob file sent in 1 MiB reads (ranges and HEAD as starlette does them)."""

    chunk_size = 1 << 20


async def download(request: Request) -> Response:
    image_id = request.path_params["image_id"]
    ctx, obj = await load(request, image_id)
    st = obj.get("status") or {}
    if st.get("state") == "deactivated" and not ctx.is_admin:
        raise ApiError(403, "The requested image has been deactivated. Image data download "
                            "is prohibited.", reason="Forbidden")
    if st.get("state") not in ("active", "deactivated") or not st.get("blob"):
        return Response(status_code=204)
    path = blobs(runtime(request)).path(st["blob"])
    if not path.is_file():
        raise ApiError(503, f"The data of image {image_id} is missing from the image store.",
                       reason="ServiceUnavailable")
    headers = {"Content-MD5": st["checksum"]} if st.get("checksum") else {}
    return BlobResponse(path, media_type="application/octet-stream", headers=headers,
                        stat_result=path.stat())


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A local file as an async stream of large reads (for imports)."""
    with open(path, "rb") as f:
        while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
            yield chunk


def close_blob_store(rt: Runtime) -> None:
    """Stop the worker threads of a runtime's blob store (process or test shutdown)."""
    found = _BLOB_STORES.pop((rt.config.data_dir / "blobs").resolve(), None)
    if found is not None:
        found.close()
