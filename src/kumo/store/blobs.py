"""Content-addressed blob files: streamed in, hashed on the way, renamed into place.

A blob lives at ``root/<sha256[:2]>/<sha256>`` and never changes; identical
content is stored once. While a stream arrives it goes to ``root/tmp/`` and is
hashed (md5, sha512, sha256) and written in parallel worker threads, batch by
batch, so the event loop only gathers bytes. The temp file is fsynced and
renamed atomically; on any failure it is removed. There is no refcount: the
caller deletes a blob once nothing references it (``delete_unless``).

    BlobError
    ├── BlobTooLarge     the stream passed its max_bytes (a quota or size cap)
    ├── StorageFull      writing would leave less than the reserve free on disk
    └── BlobIncomplete   the stream ended with fewer/more bytes than announced
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import errno
import glob
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MiB = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BlobError(Exception):
    """Base of every blob store error."""


class BlobTooLarge(BlobError):
    pass


class StorageFull(BlobError):
    pass


class BlobIncomplete(BlobError):
    pass


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    md5: str
    sha512: str
    size: int
    path: Path


def disk_free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Sink:
    """One temp file and its three hashes, fed batch by batch through four lanes.

    Each lane (md5, sha512, sha256, file write) is one worker thread, so batches
    reach every hash and the file in order while the lanes run in parallel and
    the event loop gathers the next batches. At most ``depth`` batches are in
    flight; beyond that the stream waits (backpressure, bounded memory).
    """

    def __init__(self, fd: int, lanes: list[concurrent.futures.Executor], depth: int) -> None:
        self.fd = fd
        self.lanes = lanes
        self.depth = depth
        self.hashes = {"md5": hashlib.md5(usedforsecurity=False), "sha512": hashlib.sha512(),
                       "sha256": hashlib.sha256()}
        self.inflight: collections.deque[list[concurrent.futures.Future[Any]]] = (
            collections.deque())

    async def push(self, data: bytes) -> None:
        while len(self.inflight) >= self.depth:
            await self._retire_oldest()
        md5, sha512, sha256, write = self.lanes
        h = self.hashes
        self.inflight.append([md5.submit(h["md5"].update, data),
                              sha512.submit(h["sha512"].update, data),
                              sha256.submit(h["sha256"].update, data),
                              write.submit(self._write, data)])

    def _write(self, data: bytes) -> None:
        try:
            _write_all(self.fd, data)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(f"the image store is full: {exc.strerror}") from exc
            raise

    async def _retire_oldest(self) -> None:
        """Wait for the oldest batch; it leaves ``inflight`` only once every lane is done."""
        results = await asyncio.gather(*(asyncio.wrap_future(f) for f in self.inflight[0]),
                                       return_exceptions=True)
        self.inflight.popleft()
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def wait(self) -> None:
        while self.inflight:
            await self._retire_oldest()

    def settle(self) -> None:
        """Block until the lanes let go of the file (error path only)."""
        for batch in self.inflight:
            concurrent.futures.wait(batch)
        self.inflight.clear()


class BlobStore:
    """Blob files under ``root``; one instance per directory and process."""

    def __init__(self, root: Path, *, reserve_bytes: int = 64 * MiB, batch_bytes: int = 4 * MiB,
                 depth: int = 4, free_bytes: Callable[[Path], int] = disk_free_bytes) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.reserve_bytes = reserve_bytes
        self.batch_bytes = batch_bytes
        self.free_bytes = free_bytes
        self.depth = depth
        self._lanes: list[concurrent.futures.Executor] = [
            concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"blob-{lane}")
            for lane in ("md5", "sha512", "sha256", "write")]
        self._lock = asyncio.Lock()
        self._pins: collections.Counter[str] = collections.Counter()
        self.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)

    # ---- read -------------------------------------------------------------
    def path(self, sha256: str) -> Path:
        if not _HEX64.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")  # noqa: SIM115 - the caller owns it

    def stats(self) -> dict[str, Any]:
        return {"root": str(self.root), "pinned": len(self._pins),
                "temp_files": sum(1 for _ in self.tmp.iterdir())}

    # ---- write ------------------------------------------------------------
    def check_room(self, size: int, max_bytes: int) -> None:
        """Fail fast when an announced size cannot fit."""
        if size > max_bytes:
            raise BlobTooLarge(f"{size} bytes exceed the limit of {max_bytes} bytes")
        free = self.free_bytes(self.root)
        if free - size < self.reserve_bytes:
            raise StorageFull(f"{size} bytes do not fit: {free} bytes free, "
                              f"{self.reserve_bytes} kept in reserve")

    async def write_stream(self, chunks: AsyncIterator[bytes], max_bytes: int, *,
                           expected_size: int | None = None, tag: str = "") -> BlobInfo:
        """Store a stream; the returned blob is pinned until ``release(sha256)``.

        Pinning keeps ``delete_unless`` away from a blob between its rename and
        the caller's commit of a reference to it. ``tag`` (an image id) names the
        temp file, so ``discard_partial`` finds what a crashed writer left.
        """
        if expected_size is not None:
            self.check_room(expected_size, max_bytes)
        tmp = self.tmp / f"{tag + '.' if tag else ''}{secrets.token_hex(16)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        sink = _Sink(fd, self._lanes, self.depth)
        try:
            size = await self._pump(chunks, sink, max_bytes)
            await sink.wait()
            if expected_size is not None and size != expected_size:
                raise BlobIncomplete(f"received {size} bytes, {expected_size} were announced")
            await asyncio.get_running_loop().run_in_executor(self._lanes[3], os.fsync, fd)
        except BaseException:
            sink.settle()
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        digests = {k: h.hexdigest() for k, h in sink.hashes.items()}
        dest = self.path(digests["sha256"])
        async with self._lock:
            dest.parent.mkdir(exist_ok=True, mode=0o700)
            os.replace(tmp, dest)
            self._pins[digests["sha256"]] += 1
        _fsync_dir(dest.parent)
        return BlobInfo(digests["sha256"], digests["md5"], digests["sha512"], size, dest)

    async def _pump(self, chunks: AsyncIterator[bytes], sink: _Sink, max_bytes: int) -> int:
        batch: list[bytes] = []
        buffered = total = 0
        async for chunk in chunks:
            if not chunk:
                continue
            total += len(chunk)
            if total > max_bytes:
                raise BlobTooLarge(f"the data exceeds the limit of {max_bytes} bytes")
            batch.append(chunk)
            buffered += len(chunk)
            if buffered >= self.batch_bytes:
                await self._flush(batch, buffered, sink)
                batch, buffered = [], 0
        if batch:
            await self._flush(batch, buffered, sink)
        return total

    async def _flush(self, batch: list[bytes], size: int, sink: _Sink) -> None:
        free = self.free_bytes(self.root)
        if free - size < self.reserve_bytes:
            raise StorageFull(f"only {free} bytes free on the image store "
                              f"({self.reserve_bytes} kept in reserve)")
        await sink.push(batch[0] if len(batch) == 1 else b"".join(batch))

    def release(self, sha256: str) -> None:
        """Unpin a blob returned by ``write_stream`` (its reference is committed or dropped)."""
        self._pins[sha256] -= 1
        if self._pins[sha256] <= 0:
            del self._pins[sha256]

    # ---- delete -----------------------------------------------------------
    async def delete(self, sha256: str) -> bool:
        path = self.path(sha256)
        async with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True

    async def delete_unless(self, sha256: str, referenced: Callable[[], Awaitable[bool]]) -> bool:
        """Delete a blob unless it is pinned or ``referenced()`` says it is still in use."""
        async with self._lock:
            if self._pins.get(sha256) or await referenced():
                return False
            try:
                self.path(sha256).unlink()
            except FileNotFoundError:
                return False
            return True

    def cleanup_temp(self, older_than: float = 3600.0) -> int:
        """Remove temp files a crashed process left behind."""
        removed = 0
        cutoff = time.time() - older_than
        for f in self.tmp.iterdir():
            try:
                if f.stat().st_mtime < cutoff:
                    f.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def close(self) -> None:
        for lane in self._lanes:
            lane.shutdown(wait=True)


def discard_partial(root: Path, tag: str) -> int:
    """Remove the temp files of streams tagged ``tag`` (a crashed writer's leftovers)."""
    removed = 0
    for f in (Path(root) / "tmp").glob(f"{glob.escape(tag)}.*.part"):
        f.unlink(missing_ok=True)
        removed += 1
    return removed


def old_blobs(root: Path, older_than: float) -> list[str]:
    """The sha256 of every blob file not written for ``older_than`` seconds."""
    cutoff, out = time.time() - older_than, []
    for sub in Path(root).glob("[0-9a-f][0-9a-f]"):
        for f in sub.iterdir():
            try:
                if _HEX64.match(f.name) and f.stat().st_mtime < cutoff:
                    out.append(f.name)
            except FileNotFoundError:
                pass
    return out


def remove_if_old(root: Path, sha256: str, older_than: float) -> bool:
    """Remove a blob file if it is still one not written for ``older_than`` seconds.

    It is first renamed aside and judged there: an upload of the same content that
    renamed a fresh file into place meanwhile is put back (same content, same name), so
    a blob an upload is about to reference is never lost."""
    path = Path(root) / sha256[:2] / sha256
    aside = Path(root) / "tmp" / f"gc.{sha256}.{secrets.token_hex(4)}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if aside.stat().st_mtime >= time.time() - older_than:
        os.replace(aside, path)  # fresh: an upload's, keep it
        return False
    aside.unlink()
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
