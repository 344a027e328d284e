"""In-process fan-out of committed events to watchers.

The SQLite writer thread commits a batch, then hands its events to the hub on
the event loop; every watcher has a bounded queue. A watcher that falls too far
behind is closed with Gone so it re-lists instead of silently missing events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .backend import Event

WATCH_QUEUE_LIMIT = 20_000


@dataclass(eq=False)
class Watcher:
    kind: str | None
    namespace: str | None
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False
    select: Callable[[dict[str, Any]], bool] | None = None  # e.g. a label selector
    backlog_since: float = 0.0  # when its queue last went from empty to non-empty

    def matches(self, event: Event) -> bool:
        rec = event.record
        if rec is None:
            return True
        if self.kind is not None and rec.key.kind != self.kind:
            return False
        if self.namespace is not None and rec.key.namespace != self.namespace:
            return False
        return self.select is None or self.select(rec.value)


class WatchHub:
    """Holds the watchers and the revision up to which events were delivered."""

    def __init__(self) -> None:
        self.watchers: set[Watcher] = set()
        # by kind (None: every kind): an event is offered only to its kind's watchers,
        # so a Lease renewal does not visit the thousands watching Servers or Ports
        self.by_kind: dict[str | None, set[Watcher]] = {}
        self.delivered_revision = 0
        self.events_delivered = 0

    def add(self, kind: str | None, namespace: str | None,
            select: Callable[[dict[str, Any]], bool] | None = None) -> Watcher:
        w = Watcher(kind, namespace, select=select)
        self.watchers.add(w)
        self.by_kind.setdefault(kind, set()).add(w)
        return w

    def remove(self, w: Watcher) -> None:
        self.watchers.discard(w)
        group = self.by_kind.get(w.kind)
        if group is not None:
            group.discard(w)
            if not group:
                del self.by_kind[w.kind]

    def _offered(self, ev: Event) -> list[Watcher]:
        if ev.record is None:
            return list(self.watchers)
        return [*self.by_kind.get(ev.record.key.kind, ()), *self.by_kind.get(None, ())]

    def publish(self, events: list[Event]) -> None:
        now = time.time()
        for ev in events:
            for w in self._offered(ev):
                if w.overflowed or not w.matches(ev):
                    continue
                if w.queue.qsize() >= WATCH_QUEUE_LIMIT:
                    w.overflowed = True
                    w.queue.put_nowait(None)
                    continue
                if w.queue.empty():
                    w.backlog_since = now
                w.queue.put_nowait(ev)
                self.events_delivered += 1
            self.delivered_revision = max(self.delivered_revision, ev.revision)

    def lagging(self, top: int = 10) -> list[dict[str, Any]]:
        """The watchers with queued, undelivered events, longest backlog first: their
        kind, how many events wait and since when (``kumo doctor``'s store watch lag)."""
        now = time.time()
        slow = [w for w in self.watchers if not w.queue.empty()]
        slow.sort(key=lambda w: w.backlog_since)
        return [{"kind": w.kind, "namespace": w.namespace, "queued": w.queue.qsize(),
                 "seconds": round(now - w.backlog_since, 3), "overflowed": w.overflowed}
                for w in slow[:top]]

    def close_all(self) -> None:
        for w in self.watchers:
            w.queue.put_nowait(None)
