"""The host's image cache: each image downloaded once, verified, shared by its VMs."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from .compute import ChecksumMismatch, ImageError, validate_id


class ImageCache:
    def __init__(self, cache_dir: Path) -> None:
        self.dir = Path(cache_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, asyncio.Lock] = {}
        self.downloads = 0

    def path(self, image_id: str) -> Path:
        return self.dir / validate_id(image_id, "image id")

    async def ensure(self, image_id: str, checksum_md5: str | None,
                     fetch: Callable[[Path], Awaitable[None]]) -> Path:
        """The cached file; concurrent callers for one image share one download."""
        dest = self.path(image_id)
        async with self._locks.setdefault(image_id, asyncio.Lock()):
            if dest.exists():
                return dest
            tmp = dest.with_name(dest.name + ".part")
            try:
                await fetch(tmp)
                if checksum_md5:
                    got = await asyncio.to_thread(_md5, tmp)
                    if got != checksum_md5:
                        raise ChecksumMismatch(
                            f"image {image_id}: md5 {got} != expected {checksum_md5}")
                os.replace(tmp, dest)
            except ChecksumMismatch:
                tmp.unlink(missing_ok=True)
                raise
            except Exception as exc:
                tmp.unlink(missing_ok=True)
                raise ImageError(f"image {image_id}: download failed: {exc}") from exc
            self.downloads += 1
            return dest

    def evict(self, image_id: str) -> None:
        self.path(image_id).unlink(missing_ok=True)


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
