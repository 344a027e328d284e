"""The backend protocol: a revisioned key-value store with watch.

Shaped after etcd's KV + Watch (and kine's SQL rendering of it) so that the
SQLite and etcd backends map onto it one to one. Values are opaque JSON
objects; object semantics (uid, finalizers, generation) live in ``objects.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
MAX_PAGE = 500  # the most records one backend list returns: no read holds the loop for long


def page_size(limit: int) -> int:
    """A backend page size: ``limit`` clamped to [1, MAX_PAGE]; 0 or negative means MAX_PAGE.

    Every backend list is bounded, so a hostile ``limit`` can neither ask for the whole
    table in one read nor (negative) make a page that never advances.
    """
    return MAX_PAGE if limit <= 0 else min(limit, MAX_PAGE)


@dataclass(frozen=True, order=True)
class Key:
    """Address of one object; namespace is "" for cluster-scoped kinds."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass
class Record:
    key: Key
    value: dict[str, Any]
    create_revision: int
    mod_revision: int


@dataclass
class Event:
    """One change. For DELETED, ``record.value`` is the last value and
    ``record.mod_revision`` the deletion's revision. BOOKMARK has no record."""

    type: EventType
    revision: int
    record: Record | None = None
    # the event as one line of an HTTP watch, encoded by the first stream that sends it
    # and reused by the others (a Host write at 1,000 hosts went to 1,000 streams)
    wire: bytes | None = field(default=None, compare=False, repr=False)


@dataclass
class Page:
    records: list[Record]
    revision: int
    more: bool


class Backend(Protocol):
    """``list`` returns at most ``page_size(limit)`` records, ``more`` when others follow."""

    async def get(self, key: Key) -> Record | None: ...

    async def list(
        self, kind: str, namespace: str | None, *, start_after: tuple[str, str] | None = None,
        limit: int = 0,
    ) -> Page: ...

    async def count(self, kind: str, namespace: str | None) -> int: ...

    async def create(self, key: Key, value: dict[str, Any]) -> Record: ...

    async def update(self, key: Key, value: dict[str, Any], expected_revision: int) -> Record: ...

    async def delete(self, key: Key, expected_revision: int | None = None) -> Record: ...

    def watch(
        self, kind: str | None, namespace: str | None, from_revision: int,
        match: Callable[[dict[str, Any]], bool] | None = None, *, shared: bool = False,
    ) -> AsyncIterator[Event]:
        """With ``shared`` the hub's own events are yielded (read-only: no copy per
        watcher; for streams that only encode them)."""
        ...

    async def revision(self) -> int: ...

    async def compact(self) -> int: ...

    def stats(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def clone_value(value: Any) -> Any:
    """Copy a JSON tree (much faster than deepcopy)."""
    if isinstance(value, dict):
        return {k: clone_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone_value(v) for v in value]
    return value


def owned(ev: Event) -> Event:
    """An event whose value nobody else holds: the writer's result, the hub and
    every watcher each get their own copy, so mutating one cannot change another."""
    rec = ev.record
    if rec is None:
        return ev
    return Event(ev.type, ev.revision,
                 Record(rec.key, clone_value(rec.value), rec.create_revision, rec.mod_revision))
