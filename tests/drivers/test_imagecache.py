"""Image cache: sha512 verification, failed downloads leave nothing, a hit never fetches."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from kumo.drivers.compute import ChecksumMismatch, ImageError, InvalidSpec
from kumo.drivers.imagecache import ImageCache

DATA = b"kumo image bytes"


async def write_data(dest: Path) -> None:
    dest.write_bytes(DATA)


async def test_sha512_checked_with_md5(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path)
    md5 = hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    sha = hashlib.sha512(DATA).hexdigest()
    path = await cache.ensure(str(uuid.uuid4()), md5, write_data, checksum_sha512=sha)
    assert path.read_bytes() == DATA
    with pytest.raises(ChecksumMismatch, match="sha512"):
        await cache.ensure(str(uuid.uuid4()), md5, write_data, checksum_sha512="0" * 128)


async def test_failed_fetch_leaves_no_file(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path)

    async def broken(dest: Path) -> None:
        dest.write_bytes(b"half")
        raise ConnectionError("glance went away")

    with pytest.raises(ImageError, match="glance went away"):
        await cache.ensure(str(uuid.uuid4()), None, broken)
    assert list(tmp_path.iterdir()) == []


async def test_cached_image_is_not_fetched_again(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path)
    iid = str(uuid.uuid4())
    await cache.ensure(iid, None, write_data)

    async def must_not_run(dest: Path) -> None:
        raise AssertionError("fetched twice")

    assert (await cache.ensure(iid, None, must_not_run)).read_bytes() == DATA


async def test_image_id_must_be_a_uuid(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec):
        await ImageCache(tmp_path).ensure("../../etc/passwd", None, write_data)
