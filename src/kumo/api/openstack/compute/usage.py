"""A watch-fed cache of per-project server usage, so quota checks need no full list.

Without it every create read every server of the project twice (check and
recheck): O(n) per request. The cache follows the store's watch; the quota
recheck waits until the cache has seen the request's own write, so of two
racing creates the later one always sees the earlier and is the one undone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kumo import store
from kumo.model import compute as cm

from ...runtime import Runtime

KEY = "compute-usage"


class UsageCache:
    def __init__(self) -> None:
        self.servers: dict[str, dict[str, tuple[int, int]]] = {}  # project -> uid -> (vcpus, ram)
        self.revision = 0
        self.synced = False
        self._changed = asyncio.Event()

    def _apply(self, obj: dict[str, Any], deleted: bool) -> None:
        md = obj["metadata"]
        proj = self.servers.setdefault(md.get("namespace", ""), {})
        if deleted or md.get("deletionTimestamp"):
            proj.pop(md["uid"], None)
            return
        flavor = (obj.get("spec") or {}).get("flavor") or {}
        proj[md["uid"]] = (int(flavor.get("vcpus", 0)), int(flavor.get("ram", 0)))

    async def _sync(self, items: list[dict[str, Any]]) -> None:
        self.servers.clear()
        for obj in items:
            self._apply(obj, False)
        self.synced = True

    async def _event(self, ev: store.WatchEvent) -> None:
        if ev.object is not None:
            self._apply(ev.object, ev.type == "DELETED")
        self.revision = max(self.revision, ev.revision)
        self._changed.set()
        self._changed = asyncio.Event()

    async def run(self, objects: store.ObjectStore) -> None:
        async def sync(items: list[dict[str, Any]]) -> None:
            await self._sync(items)
            self.revision = max(self.revision, await objects.revision())

        await store.watchloop.watch_forever(objects, cm.SERVER, None, self._event, sync)

    async def wait_for(self, revision: int, timeout: float = 2.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.revision < revision:
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return False
        return True

    def usage(self, project: str, exclude: set[str] = frozenset()) -> dict[str, int]:
        items = [v for uid, v in self.servers.get(project, {}).items() if uid not in exclude]
        return {"instances": len(items), "cores": sum(v[0] for v in items),
                "ram": sum(v[1] for v in items)}


def cache_of(rt: Runtime) -> UsageCache | None:
    """The running cache, or None (then callers list the store)."""
    cache = rt.caches.get(KEY)
    return cache if cache is not None and cache.synced else None


async def run(rt: Runtime) -> None:
    cache = UsageCache()
    rt.caches[KEY] = cache
    rt.debug_providers[KEY] = lambda: {"projects": len(cache.servers),
                                       "servers": sum(len(v) for v in cache.servers.values()),
                                       "revision": cache.revision}
    await cache.run(rt.objects)
