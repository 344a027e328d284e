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
                     fetch: Callable[[Path], Awaitable[None]],
                     checksum_sha512: str | None = None) -> Path:
        """The cached file; concurrent callers for one image share one download.

        fetch(tmp) writes the image to tmp; only verified bytes are renamed into
        place, so a crash or a bad download never leaves a usable-looking file.
        """
        dest = self.path(image_id)
        async with self._locks.setdefault(image_id, asyncio.Lock()):
            if dest.exists():
                return dest
            tmp = dest.with_name(dest.name + ".part")
            try:
                await fetch(tmp)
                expected = {"md5": checksum_md5, "sha512": checksum_sha512}
                expected = {k: v.lower() for k, v in expected.items() if v}
                if expected:
                    got = await asyncio.to_thread(_digests, tmp, list(expected))
                    for algo, want in expected.items():
                        if got[algo] != want:
                            raise ChecksumMismatch(
                                f"image {image_id}: {algo} {got[algo]} != expected {want}")
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

    def inventory(self) -> list[dict[str, object]]:
        """Each cached image's size and md5 as it is on disk now (re-hashed only when its
        size or mtime changed), so ``kumo doctor`` can tell a file changed after it was
        verified from a good one."""
        seen = getattr(self, "_seen", {})
        out: list[dict[str, object]] = []
        for path in sorted(self.dir.iterdir()):
            if path.suffix == ".part" or not path.is_file():
                continue
            st = path.stat()
            stamp = (st.st_size, st.st_mtime_ns)
            if seen.get(path.name, (None,))[0] != stamp:
                seen[path.name] = (stamp, _digests(path, ["md5"])["md5"])
            out.append({"id": path.name, "size": st.st_size, "md5": seen[path.name][1],
                        "path": str(path)})
        self._seen = seen
        return out


def _digests(path: Path, algos: list[str]) -> dict[str, str]:
    """Hex digests of one file for several algorithms, in a single read."""
    hashes = {a: hashlib.new(a, usedforsecurity=False) for a in algos}
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            for h in hashes.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashes.items()}
