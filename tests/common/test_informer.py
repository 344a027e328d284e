"""The one informer: list → watch → re-list on Gone, over the store or any Source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kumo import store
from kumo.common import errors
from kumo.common.informer import Informer
from kumo.store import watchhub

Obj = dict[str, Any]


def obj(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"kind": "Thing", "metadata": {"name": name, "namespace": "p",
                                          "labels": labels or {}}, "spec": {}}


@pytest.fixture
async def objects(tmp_path: Path) -> AsyncIterator[store.ObjectStore]:
    objects = await store.open_sqlite(str(tmp_path / "s.db"))
    yield objects
    await objects.backend.close()


async def until(check: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_slow_consumer_converges_after_gone(objects: store.ObjectStore,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchhub, "WATCH_QUEUE_LIMIT", 4)
    gate = asyncio.Event()
    seen: list[str] = []

    async def on_event(typ: str, o: Obj) -> None:
        await gate.wait()  # stalls until the watch has overflowed
        seen.append(typ)

    await objects.create(obj("seed"))
    inf = Informer(store.StoreSource(objects, "Thing"), on_event=on_event)
    task = asyncio.create_task(inf.run())
    try:
        await asyncio.sleep(0.05)
        gate.set()
        await inf.synced.wait()
        gate.clear()
        for i in range(12):
            await objects.create(obj(f"burst{i}"))
        await objects.delete("Thing", "p", "seed")
        gate.set()
        want = {("p", o["metadata"]["name"]) for o in (await objects.list("Thing")).items}
        await until(lambda: set(inf.items) == want and inf.relists >= 2)
        assert ("p", "seed") not in inf.items
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_selector_view_drops_objects_that_leave_it(objects: store.ObjectStore) -> None:
    events: list[tuple[str, str]] = []
    inf = Informer(store.StoreSource(objects, "Thing", label_selector="role=web"),
                   on_event=lambda t, o: events.append((t, o["metadata"]["name"])))
    a = await objects.create(obj("a", {"role": "web"}))
    await objects.create(obj("b", {"role": "db"}))
    task = asyncio.create_task(inf.run())
    try:
        await inf.synced.wait()
        assert set(inf.items) == {("p", "a")}
        a["metadata"]["labels"] = {"role": "db"}
        await objects.update(a)
        await until(lambda: not inf.items)
        await objects.create(obj("c", {"role": "web"}))
        await until(lambda: ("p", "c") in inf.items)
        assert events == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "c")]
        rev = await objects.revision()
        assert await inf.wait_for_revision(rev, 2.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class EndingSource:
    """A watch that ends cleanly after each event (a server-side timeout), or is Gone."""

    name = "ending"

    def __init__(self) -> None:
        self.lists = 0
        self.watch_from: list[int] = []
        self.pending: list[tuple[str, Obj, int]] = [
            ("ADDED", obj("x") | {"metadata": {"name": "x", "resourceVersion": "2"}}, 2),
            ("ADDED", obj("y") | {"metadata": {"name": "y", "resourceVersion": "3"}}, 3)]

    async def list(self) -> tuple[list[Obj], int]:
        self.lists += 1
        return [], 1

    async def watch(self, revision: int) -> AsyncIterator[tuple[str, Obj | None, int]]:
        self.watch_from.append(revision)
        if not self.pending:
            await asyncio.sleep(3600)
        if revision > 3:
            raise errors.Gone("too old")
        yield self.pending.pop(0)


async def test_a_cleanly_ended_watch_resumes_without_relisting() -> None:
    src = EndingSource()
    inf = Informer(src)
    task = asyncio.create_task(inf.run())
    try:
        await until(lambda: len(inf.items) == 2)
        assert src.lists == 1 and src.watch_from[:3] == [1, 2, 3]
        assert inf.revision == 3 and inf.get("", "y") is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class BookmarkingSource:
    """One change, then bookmarks only (other kinds' writes moving the revision)."""

    name = "bookmarking"

    async def list(self) -> tuple[list[Obj], int]:
        return [], 1

    async def watch(self, revision: int) -> AsyncIterator[tuple[str, Obj | None, int]]:
        yield "ADDED", obj("x") | {"metadata": {"name": "x", "resourceVersion": "2"}}, 2
        for rev in (5, 9):
            yield "BOOKMARK", None, rev
        await asyncio.sleep(3600)


async def test_bookmarks_move_the_revision_but_not_the_last_change() -> None:
    """An agent reports ``changed_revision``: its report must not change with every
    bookmark (a quiet host would rewrite it at every resync)."""
    inf = Informer(BookmarkingSource())
    task = asyncio.create_task(inf.run())
    try:
        await until(lambda: inf.revision == 9)
        assert inf.changed_revision == 2 and inf.get("", "x") is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
