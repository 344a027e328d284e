"""A watch-fed local copy of one kind, over the native API (client-go's informer).

List, then watch from the list's revision; on 410 Gone or a broken stream,
re-list and replace the copy. Every change calls ``on_change`` so the owner
can enqueue work; readers use ``items`` and never call the API for reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kumo import store

from .apiclient import ApiClient

log = logging.getLogger("kumo.agent.informer")
Obj = dict[str, Any]
Key = tuple[str, str]


class Informer:
    def __init__(self, api: ApiClient, plural: str, *, label_selector: str | None = None,
                 on_change: Callable[[str, Obj], None] | None = None) -> None:
        self.api = api
        self.plural = plural
        self.label_selector = label_selector
        self.on_change = on_change
        self.items: dict[Key, Obj] = {}
        self.synced = asyncio.Event()
        self.relists = 0
        self.events = 0
        self._changed = asyncio.Condition()

    @staticmethod
    def key(obj: Obj) -> Key:
        md = obj["metadata"]
        return md.get("namespace") or "", md["name"]

    def _apply(self, typ: str, obj: Obj) -> None:
        k = self.key(obj)
        if typ == "DELETED":
            self.items.pop(k, None)
        else:
            old = self.items.get(k)
            if old is not None and int(old["metadata"].get("resourceVersion", 0)) > int(
                    obj["metadata"].get("resourceVersion", 0)):
                return
            self.items[k] = obj
        if self.on_change is not None:
            self.on_change(typ, obj)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until predicate() holds after some change, or the timeout passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changed:
            while not predicate():
                left = deadline - loop.time()
                if left <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    return predicate()
        return True

    async def run(self) -> None:
        while True:
            try:
                items, rv = await self.api.list(self.plural, label_selector=self.label_selector)
                self.relists += 1
                fresh = {self.key(o): o for o in items}
                for k in set(self.items) - set(fresh):
                    self._apply("DELETED", self.items[k])
                for o in items:
                    self._apply("ADDED", o)
                self.synced.set()
                await self._notify()
                async for typ, obj in self.api.watch(self.plural, rv,
                                                     label_selector=self.label_selector):
                    if typ in ("ADDED", "MODIFIED", "DELETED"):
                        self.events += 1
                        self._apply(typ, obj)
                        await self._notify()
            except store.Gone:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("watch of %s failed (%s); re-listing", self.plural, exc)
                await asyncio.sleep(1.0)
