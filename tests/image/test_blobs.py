"""BlobStore: hashes while streaming, atomic placement, limits, cleanup, pinning."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kumo.store.blobs import BlobIncomplete, BlobStore, BlobTooLarge, StorageFull

from .conftest import digests


async def stream(data: bytes, chunk: int = 65536, fail_after: int | None = None
                 ) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        if fail_after is not None and i >= fail_after:
            raise ConnectionError("peer went away")
        yield data[i:i + chunk]


@pytest.fixture
def blobs(tmp_path: Path):
    bs = BlobStore(tmp_path / "blobs", batch_bytes=256 * 1024, reserve_bytes=0)
    yield bs
    bs.close()


async def test_write_hashes_and_places_atomically(blobs: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    info = await blobs.write_stream(stream(data), max_bytes=1 << 30)
    want = digests(data)
    assert (info.md5, info.sha512, info.sha256, info.size) == (
        want["md5"], want["sha512"], want["sha256"], len(data))
    assert info.path == blobs.root / want["sha256"][:2] / want["sha256"]
    assert info.path.read_bytes() == data
    assert oct(info.path.stat().st_mode & 0o777) == "0o600"
    assert list(blobs.tmp.iterdir()) == []
    with blobs.open(info.sha256) as f:
        assert hashlib.sha256(f.read()).hexdigest() == info.sha256


async def test_empty_stream_is_a_valid_blob(blobs: BlobStore) -> None:
    info = await blobs.write_stream(stream(b""), max_bytes=10)
    assert info.size == 0 and info.md5 == hashlib.md5(b"").hexdigest()


async def test_identical_content_is_stored_once(blobs: BlobStore) -> None:
    data = b"x" * 100_000
    a = await blobs.write_stream(stream(data), max_bytes=1 << 20)
    b = await blobs.write_stream(stream(data, chunk=777), max_bytes=1 << 20)
    assert a.path == b.path and a.sha512 == b.sha512
    assert len(list(blobs.root.glob("??/*"))) == 1


async def test_too_large_fails_and_removes_temp(blobs: BlobStore) -> None:
    with pytest.raises(BlobTooLarge):
        await blobs.write_stream(stream(b"y" * 1_000_000), max_bytes=999_999)
    assert list(blobs.tmp.iterdir()) == []
    assert list(blobs.root.glob("??/*")) == []


async def test_announced_size_is_checked_before_reading(blobs: BlobStore) -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("must not be read")
        yield b""

    with pytest.raises(BlobTooLarge):
        await blobs.write_stream(never(), max_bytes=10, expected_size=11)


def small_disk(capacity: int):
    """A fake statvfs: a disk of ``capacity`` bytes holding the files under root."""
    def free(root: Path) -> int:
        return capacity - sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return free


async def test_disk_full_by_free_space(tmp_path: Path) -> None:
    bs = BlobStore(tmp_path / "b", batch_bytes=100_000, reserve_bytes=100_000,
                   free_bytes=small_disk(600_000))
    try:
        with pytest.raises(StorageFull):
            await bs.write_stream(stream(b"z" * 1_000_000), max_bytes=1 << 30)
        assert list(bs.tmp.iterdir()) == []
        with pytest.raises(StorageFull):
            await bs.write_stream(stream(b""), max_bytes=1 << 30, expected_size=550_000)
        info = await bs.write_stream(stream(b"z" * 400_000), max_bytes=1 << 30)
        assert info.size == 400_000
    finally:
        bs.close()


async def test_short_stream_against_announced_size(blobs: BlobStore) -> None:
    with pytest.raises(BlobIncomplete):
        await blobs.write_stream(stream(b"q" * 1000), max_bytes=1 << 20, expected_size=1001)
    assert list(blobs.tmp.iterdir()) == []


async def test_broken_stream_removes_temp(blobs: BlobStore) -> None:
    with pytest.raises(ConnectionError):
        await blobs.write_stream(stream(os.urandom(2_000_000), fail_after=1_000_000),
                                 max_bytes=1 << 30)
    assert list(blobs.tmp.iterdir()) == []
    assert list(blobs.root.glob("??/*")) == []


async def test_pinned_or_referenced_blobs_survive_delete_unless(blobs: BlobStore) -> None:
    info = await blobs.write_stream(stream(b"pinned"), max_bytes=100)

    async def unused() -> bool:
        return False

    async def used() -> bool:
        return True

    assert not await blobs.delete_unless(info.sha256, unused)  # pinned until released
    blobs.release(info.sha256)
    assert not await blobs.delete_unless(info.sha256, used)
    assert blobs.exists(info.sha256)
    assert await blobs.delete_unless(info.sha256, unused)
    assert not blobs.exists(info.sha256)
    assert not await blobs.delete(info.sha256)


async def test_path_rejects_non_digests(blobs: BlobStore) -> None:
    for bad in ("../../etc/passwd", "ABC", "0" * 63):
        with pytest.raises(ValueError):
            blobs.path(bad)


async def test_cleanup_temp_removes_only_old_files(blobs: BlobStore) -> None:
    old, new = blobs.tmp / "old.part", blobs.tmp / "new.part"
    old.write_bytes(b"1")
    new.write_bytes(b"2")
    os.utime(old, (0, 0))
    assert blobs.cleanup_temp(older_than=60) == 1
    assert [p.name for p in blobs.tmp.iterdir()] == ["new.part"]
