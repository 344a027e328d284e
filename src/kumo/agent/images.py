"""Image fetching for the agent: the image service → the host's checksum-verified cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kumo.client import ApiClient
from kumo.drivers.imagecache import ImageCache


class ImageFetcher:
    def __init__(self, api: ApiClient, cache: ImageCache) -> None:
        self.api = api
        self.cache = cache

    async def ensure(self, image_id: str, checksum: str | None) -> Path:
        """Local path of an image, downloaded once per host and verified."""

        async def fetch(dest: Path) -> None:
            await self.api.download(f"/image/v2/images/{image_id}/file", dest)

        return await self.cache.ensure(image_id, checksum, fetch)

    async def describe(self, image_id: str) -> dict[str, Any]:
        r = await self.api.request("GET", f"{self.api.base}/image/v2/images/{image_id}")
        self.api._raise(r)
        return r.json()
