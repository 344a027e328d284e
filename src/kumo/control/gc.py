"""Garbage collector: deletes objects whose owners are gone (background propagation).

Keeps an index of owner uid → dependents and the set of live uids, fed by a
watch on every registered kind. When an owner is deleted (or, after a re-list,
found missing) its dependents are deleted; their own dependents follow in turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from kumo import store
from kumo.common.informer import Informer
from kumo.model import registry
from kumo.observe import metrics

from .plane import ControlPlane

log = logging.getLogger("kumo.control.gc")
Ref = tuple[str, str, str]  # kind, namespace, name


class GarbageCollector:
    def __init__(self, objects: store.ObjectStore) -> None:
        self.objects = objects
        self.live: set[str] = set()
        self.dependents: dict[str, set[Ref]] = defaultdict(set)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.deleted = 0

    def _index(self, obj: store.objects.Obj) -> None:
        md = obj["metadata"]
        ref = (obj["kind"], md.get("namespace", ""), md["name"])
        self.live.add(md["uid"])
        for owner in md.get("ownerReferences") or []:
            uid = owner.get("uid")
            if uid:
                self.dependents[uid].add(ref)

    def on_change(self, typ: str, obj: store.objects.Obj) -> None:
        md = obj["metadata"]
        if typ == "DELETED":
            self.live.discard(md["uid"])
            if md["uid"] in self.dependents:
                self.queue.put_nowait(md["uid"])
        else:
            self._index(obj)

    async def sweep_orphans(self) -> None:
        """After (re)listing: owners that no longer exist."""
        for uid in list(self.dependents):
            if uid not in self.live:
                self.queue.put_nowait(uid)

    async def worker(self) -> None:
        while True:
            metrics.QUEUE_DEPTH.labels("gc").set(self.queue.qsize())
            uid = await self.queue.get()
            for kind, ns, name in sorted(self.dependents.pop(uid, set())):
                obj = await self.objects.try_get(kind, ns, name)
                if obj is None:
                    continue
                owners = {o.get("uid") for o in obj["metadata"].get("ownerReferences") or []}
                if uid not in owners or owners & self.live:
                    continue
                try:
                    await self.objects.delete(kind, ns, name)
                    self.deleted += 1
                    metrics.RECONCILES.labels("gc", "deleted").inc()
                    log.info("deleted %s %s/%s: owner %s is gone", kind, ns, name, uid)
                except store.NotFound:
                    pass
                except store.StoreError:
                    metrics.RECONCILES.labels("gc", "error").inc()
                    log.exception("gc delete failed")


async def run(rt: ControlPlane) -> None:
    gc = GarbageCollector(rt.objects)
    rt.debug_providers["gc"] = lambda: {"tracked_owners": len(gc.dependents),
                                        "live_objects": len(gc.live), "deleted": gc.deleted,
                                        "queue": gc.queue.qsize()}
    informers: list[Informer] = []

    async def synced(_: list[store.objects.Obj]) -> None:
        # an owner of another kind may not be listed yet: sweep once every kind is
        if all(i.synced.is_set() for i in informers):
            await gc.sweep_orphans()

    informers += [Informer(store.StoreSource(rt.objects, info.kind), on_event=gc.on_change,
                           on_sync=synced) for info in registry.all_kinds()]
    await asyncio.gather(gc.worker(), *(i.run() for i in informers))
