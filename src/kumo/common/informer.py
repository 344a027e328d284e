"""A watch-fed local copy of one kind: list → watch from the list's revision →
re-list on 410 Gone or a broken stream, forever (client-go's reflector + informer,
kopf's continuous_watch).

The same class serves the control plane (a ``Source`` over the store) and the host
agents (a ``Source`` over the native API's HTTP watch). Readers use ``items`` and
never ask the API for reads; ``on_event`` tells the owner which key changed so it
can enqueue work; ``on_sync`` gets the whole list after every (re)list.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from .errors import Gone

RELIST_AFTER = 3  # watch failures in a row before a full re-list
MAX_RETRY_DELAY = 15.0

log = logging.getLogger("kumo.common.informer")
Obj = dict[str, Any]
Key = tuple[str, str]  # namespace, name
Handler = Callable[[str, Obj], Awaitable[None] | None]
SyncHandler = Callable[[list[Obj]], Awaitable[None] | None]


class Source(Protocol):
    """Where one kind is listed and watched."""

    name: str

    async def list(self) -> tuple[list[Obj], int]:
        """Every object and the revision the list was read at."""
        ...

    def watch(self, revision: int) -> AsyncIterator[tuple[str, Obj | None, int]]:
        """(type, object, revision) after ``revision``; BOOKMARK has no object.

        Raises ``Gone`` when ``revision`` is older than the retained history."""
        ...


def key_of(obj: Obj) -> Key:
    md = obj["metadata"]
    return md.get("namespace") or "", md["name"]


def _rv(obj: Obj) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


async def _call(fn: Callable[..., Awaitable[None] | None] | None, *args: Any) -> None:
    if fn is None:
        return
    res = fn(*args)
    if inspect.isawaitable(res):
        await res


class Informer:
    """One kind's objects kept current; ``run()`` until cancelled."""

    def __init__(self, source: Source, *, on_event: Handler | None = None,
                 on_sync: SyncHandler | None = None, retry_delay: float = 1.0) -> None:
        self.source = source
        self.on_event = on_event
        self.on_sync = on_sync
        self.retry_delay = retry_delay
        self.items: dict[Key, Obj] = {}
        self.revision = 0  # everything up to here seen (bookmarks move it)
        self.changed_revision = 0  # the last change seen: events and re-lists, not bookmarks
        self.synced = asyncio.Event()
        self.relists = 0
        self.events = 0
        self.failures = 0
        self._changed = asyncio.Event()  # replaced by a fresh one on every change

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.items.get((namespace or "", name))

    def values(self) -> list[Obj]:
        return list(self.items.values())

    async def _apply(self, typ: str, obj: Obj) -> None:
        k = key_of(obj)
        if typ == "DELETED":
            if self.items.pop(k, None) is None:
                return  # never in this view (a selector's non-match)
        else:
            old = self.items.get(k)
            if old is not None and _rv(old) > _rv(obj):
                return  # an older copy arrived late (re-list racing a watch)
            self.items[k] = obj
        await _call(self.on_event, typ, obj)

    async def _notify(self) -> None:
        """Wake every waiter: set this change's event and start the next (no lock, so
        the watch loop never waits for waiters)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds after some change, or the timeout passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return predicate()
        return True

    async def wait_for_revision(self, revision: int, timeout: float) -> bool:
        """Wait until the copy has seen every change up to ``revision``."""
        return await self.wait_for(lambda: self.revision >= revision, timeout)

    async def _relist(self) -> int:
        items, revision = await self.source.list()
        self.relists += 1
        fresh = {key_of(o): o for o in items}
        for k in set(self.items) - set(fresh):
            await self._apply("DELETED", self.items[k])
        for obj in items:
            await self._apply("ADDED", obj)
        self.revision = max(self.revision, revision)
        self.changed_revision = max(self.changed_revision, revision)
        self.synced.set()
        await _call(self.on_sync, items)
        await self._notify()
        return revision

    async def run(self) -> None:
        """List, then watch from the list's revision; resume after a broken stream.

        A transport failure resumes the watch from the last revision seen (the
        store replays what was missed) after a jittered, growing pause; only Gone
        (history compacted) or ``RELIST_AFTER`` failures in a row re-list. When an
        overloaded API drops a thousand agents' streams at once, they must not all
        come back with a full list at the same moment.
        """
        revision: int | None = None
        failed = 0
        while True:
            try:
                if revision is None:
                    revision = await self._relist()
                async for typ, obj, rev in self.source.watch(revision):
                    failed = 0
                    if obj is not None and typ in ("ADDED", "MODIFIED", "DELETED"):
                        self.events += 1
                        self.changed_revision = max(self.changed_revision, rev)
                        await self._apply(typ, obj)
                    revision = max(revision, rev)
                    self.revision = max(self.revision, rev)
                    await self._notify()
                # the stream ended cleanly (a server-side timeout): resume, no re-list
            except Gone:
                log.info("watch of %s expired; re-listing", self.source.name)
                revision = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                failed += 1
                if failed >= RELIST_AFTER:
                    revision = None
                log.warning("watch of %s failed (%s: %s); %s", self.source.name,
                            type(exc).__name__, exc,
                            "re-listing" if revision is None else f"resuming from {revision}")
                pause = min(self.retry_delay * 2 ** (failed - 1), MAX_RETRY_DELAY)
                await asyncio.sleep(pause * random.uniform(0.5, 1.5))

    def debug_state(self) -> dict[str, Any]:
        return {"source": self.source.name, "items": len(self.items), "revision": self.revision,
                "synced": self.synced.is_set(), "relists": self.relists, "events": self.events,
                "failures": self.failures}
