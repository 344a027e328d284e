"""Store conformance: the semantics every backend must have."""

from __future__ import annotations

import asyncio

import pytest

from kumo import store
from kumo.store import watchhub


def obj(name: str, ns: str = "p", kind: str = "Thing", labels: dict | None = None,
        spec: dict | None = None, **md) -> dict:
    return {"kind": kind, "metadata": {"name": name, "namespace": ns, "labels": labels or {},
                                       **md}, "spec": spec or {}}


async def collect(objects: store.ObjectStore, n: int, **kw) -> list[store.WatchEvent]:
    out = []

    async def run() -> None:
        async for ev in objects.watch(**kw):
            if ev.type != "BOOKMARK":
                out.append(ev)
            if len(out) >= n:
                return

    await asyncio.wait_for(run(), 5)
    return out


async def test_create_get_conflict(objects) -> None:
    a = await objects.create(obj("a", spec={"x": 1}))
    assert a["metadata"]["uid"] and a["metadata"]["generation"] == 1
    with pytest.raises(store.AlreadyExists):
        await objects.create(obj("a"))
    got = await objects.get("Thing", "p", "a")
    assert got == a
    with pytest.raises(store.NotFound):
        await objects.get("Thing", "p", "zz")


async def test_update_cas_never_silent(objects) -> None:
    a = await objects.create(obj("a", spec={"x": 1}))
    b = {**a, "spec": {"x": 2}}
    b2 = await objects.update(b)
    assert int(b2["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert b2["metadata"]["generation"] == 2
    assert b2["metadata"]["uid"] == a["metadata"]["uid"]
    with pytest.raises(store.Conflict):
        await objects.update({**a, "spec": {"x": 3}})
    assert (await objects.get("Thing", "p", "a"))["spec"] == {"x": 2}
    # metadata-only change: generation stays
    b3 = await objects.update({**b2, "metadata": {**b2["metadata"], "labels": {"l": "v"}}})
    assert b3["metadata"]["generation"] == 2


async def test_delete_with_expected_and_finalizers(objects) -> None:
    a = await objects.create(obj("a"))
    await objects.update({**a, "spec": {"y": 1}})
    with pytest.raises(store.Conflict):
        await objects.delete("Thing", "p", "a", expected_rv=int(a["metadata"]["resourceVersion"]))
    f = await objects.create(obj("f", finalizers=["x/y"]))
    marked = await objects.delete("Thing", "p", "f")
    assert marked["metadata"]["deletionTimestamp"]
    assert (await objects.get("Thing", "p", "f"))["metadata"]["deletionTimestamp"]
    cur = await objects.get("Thing", "p", "f")
    cur["metadata"]["finalizers"] = []
    await objects.update(cur)
    with pytest.raises(store.NotFound):
        await objects.get("Thing", "p", "f")
    assert f["metadata"]["uid"]


async def test_list_namespace_selector_pagination(objects) -> None:
    for i in range(12):
        await objects.create(obj(f"o{i:02d}", ns="p" if i % 3 else "q",
                                 labels={"tier": "web" if i % 2 else "db", "n": str(i)}))
    assert len((await objects.list("Thing")).items) == 12
    assert len((await objects.list("Thing", "q")).items) == 4
    sel = await objects.list("Thing", label_selector="tier=web,n notin (1,3)")
    assert sorted(o["metadata"]["name"] for o in sel.items) == ["o05", "o07", "o09", "o11"]
    assert len((await objects.list("Thing", label_selector="!missing")).items) == 12
    seen, token = [], None
    while True:
        page = await objects.list("Thing", limit=5, continue_token=token,
                                  label_selector="tier in (web,db)")
        seen += [o["metadata"]["name"] for o in page.items]
        token = page.continue_token
        if not token:
            break
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 12
    assert page.resource_version == await objects.revision()


async def test_watch_order_filter_resume(objects) -> None:
    start = await objects.revision()
    a = await objects.create(obj("a"))
    await objects.create(obj("b", ns="other"))
    await objects.create(obj("c", kind="Other"))
    await objects.update({**a, "spec": {"v": 1}})
    await objects.delete("Thing", "p", "a")
    evs = await collect(objects, 3, kind="Thing", namespace="p", from_revision=start)
    assert [(e.type, e.object["metadata"]["name"]) for e in evs] == [
        ("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    revs = [e.revision for e in evs]
    assert revs == sorted(revs) and len(set(revs)) == 3
    rest = await collect(objects, 2, kind="Thing", namespace="p", from_revision=revs[0])
    assert [e.revision for e in rest] == revs[1:]
    # live events after history
    task = asyncio.create_task(collect(objects, 1, kind="Thing", from_revision=revs[-1]))
    await asyncio.sleep(0.05)
    await objects.create(obj("live"))
    assert (await task)[0].object["metadata"]["name"] == "live"


async def test_bookmarks_when_idle(objects) -> None:
    rev = await objects.revision()
    got = []

    async def run() -> None:
        async for ev in objects.watch("Thing", None, rev):
            got.append(ev)
            return

    await asyncio.wait_for(run(), 3)
    assert got[0].type == "BOOKMARK" and got[0].revision >= rev


async def test_compaction_and_gone(backend_factory) -> None:
    objects = await backend_factory(min_history_revisions=5, min_history_seconds=0)
    try:
        first = await objects.create(obj("a"))
        for i in range(20):
            await objects.create(obj(f"n{i}"))
        compact = await objects.backend.compact()
        now = await objects.revision()
        assert compact == now - 5
        with pytest.raises(store.Gone):
            async for _ in objects.watch("Thing", None, int(first["metadata"]["resourceVersion"])):
                pass
        evs = await collect(objects, 5, kind="Thing", from_revision=compact)
        assert len(evs) == 5
    finally:
        await objects.backend.close()


async def test_reopen_keeps_data_and_revision(backend_factory) -> None:
    objects = await backend_factory()
    for i in range(10):
        await objects.create(obj(f"r{i}"))
    rev = await objects.revision()
    await objects.backend.close()
    again = await backend_factory()
    try:
        assert await again.revision() == rev
        assert len((await again.list("Thing")).items) == 10
        new = await again.create(obj("after"))
        assert int(new["metadata"]["resourceVersion"]) == rev + 1
    finally:
        await again.backend.close()


async def test_slow_watcher_gets_gone(objects, monkeypatch) -> None:
    monkeypatch.setattr(watchhub, "WATCH_QUEUE_LIMIT", 3)
    rev = await objects.revision()
    gen = objects.watch("Thing", None, rev)
    first = asyncio.create_task(gen.__anext__())
    await asyncio.sleep(0.05)
    await asyncio.gather(*(objects.create(obj(f"s{i}")) for i in range(10)))
    await first
    with pytest.raises(store.Gone):
        async for _ in gen:
            pass


async def test_concurrent_writers_group_commit(objects) -> None:
    await asyncio.gather(*(objects.create(obj(f"g{i}")) for i in range(300)))
    assert len((await objects.list("Thing")).items) == 300
    assert objects.backend.stats()["commits"] < 300
