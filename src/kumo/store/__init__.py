"""The revisioned store: the only thing in kumo that persists state."""

from . import selectors
from .backend import Backend, Event, Key, Page, Record
from .errors import AlreadyExists, Conflict, Gone, Invalid, NotFound, StoreError
from .listwatch import StoreSource
from .objects import UNCHANGED, ObjectList, ObjectStore, WatchEvent, now_iso

__all__ = [
    "AlreadyExists", "Backend", "Conflict", "Event", "Gone", "Invalid", "Key", "NotFound",
    "ObjectList", "ObjectStore", "Page", "Record", "StoreError", "StoreSource", "UNCHANGED",
    "WatchEvent", "now_iso",
    "selectors",
]


async def open_sqlite(path: str, **kwargs: object) -> ObjectStore:
    """Open the embedded store (the all-in-one default)."""
    from .sqlite import SqliteBackend

    backend = await SqliteBackend(path, **kwargs).open()  # type: ignore[arg-type]
    return ObjectStore(backend)
