"""Backend conformance: the etcd-shaped KV + watch contract every backend keeps.

Runs once per entry in ``conftest.BACKENDS``. Object semantics on top of it
(uid, generation, finalizers, selectors) are in ``test_objects.py``.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from kumo import store
from kumo.store import watchhub
from kumo.store.backend import Backend, Event, Key

from .conftest import Factory, take, watch_until


def k(name: str, ns: str = "p", kind: str = "Thing") -> Key:
    return Key(kind, ns, name)


def names(events: list[Event]) -> list[tuple[str, str, int]]:
    return [(e.type, str(e.record.key) if e.record else "", e.revision) for e in events]


# ---- create / get / update / delete ------------------------------------------------------
async def test_create_get_and_duplicate(backend: Backend) -> None:
    start = await backend.revision()
    rec = await backend.create(k("a"), {"v": 1})
    assert rec.create_revision == rec.mod_revision == start + 1 == await backend.revision()
    assert rec.value == {"v": 1}
    got = await backend.get(k("a"))
    assert got is not None and (got.value, got.mod_revision) == ({"v": 1}, rec.mod_revision)
    with pytest.raises(store.AlreadyExists):
        await backend.create(k("a"), {"v": 2})
    assert (await backend.get(k("a"))).value == {"v": 1}
    assert await backend.revision() == rec.mod_revision
    assert await backend.get(k("missing")) is None


async def test_revisions_strictly_increase_across_keys(backend: Backend) -> None:
    revs = [(await backend.create(k(f"n{i}", ns=f"ns{i % 2}", kind=f"K{i % 3}"), {})).mod_revision
            for i in range(12)]
    assert revs == sorted(set(revs))
    assert await backend.revision() == revs[-1]


async def test_update_is_compare_and_swap(backend: Backend) -> None:
    rec = await backend.create(k("a"), {"v": 1})
    new = await backend.update(k("a"), {"v": 2}, rec.mod_revision)
    assert new.mod_revision > rec.mod_revision and new.create_revision == rec.create_revision
    with pytest.raises(store.Conflict):
        await backend.update(k("a"), {"v": 3}, rec.mod_revision)
    got = await backend.get(k("a"))
    assert (got.value, got.mod_revision) == ({"v": 2}, new.mod_revision)
    assert await backend.revision() == new.mod_revision
    with pytest.raises(store.NotFound):
        await backend.update(k("missing"), {}, 1)


async def test_concurrent_cas_has_exactly_one_winner(backend: Backend) -> None:
    rec = await backend.create(k("c"), {"w": None})
    results = await asyncio.gather(
        *(backend.update(k("c"), {"w": i}, rec.mod_revision) for i in range(20)),
        return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, store.Conflict) for r in results if r is not winners[0])
    assert (await backend.get(k("c"))).value == winners[0].value


async def test_delete_with_expected_revision(backend: Backend) -> None:
    rec = await backend.create(k("a"), {"v": 1})
    upd = await backend.update(k("a"), {"v": 2}, rec.mod_revision)
    with pytest.raises(store.Conflict):
        await backend.delete(k("a"), rec.mod_revision)
    assert (await backend.get(k("a"))).value == {"v": 2}
    gone = await backend.delete(k("a"), upd.mod_revision)
    assert gone.value == {"v": 2} and gone.mod_revision == await backend.revision()
    assert await backend.get(k("a")) is None
    with pytest.raises(store.NotFound):
        await backend.delete(k("a"))
    await backend.create(k("b"), {})
    await backend.delete(k("b"))
    assert await backend.get(k("b")) is None


async def test_recreate_gets_new_create_revision(backend: Backend) -> None:
    first = await backend.create(k("a"), {"gen": 1})
    await backend.delete(k("a"))
    again = await backend.create(k("a"), {"gen": 2})
    assert again.create_revision > first.create_revision


# ---- list -------------------------------------------------------------------------------
async def test_list_filters_orders_and_reports_revision(backend: Backend) -> None:
    for ns, name in [("q", "b"), ("p", "z"), ("p", "a"), ("q", "a"), ("", "c")]:
        await backend.create(k(name, ns), {"at": f"{ns}/{name}"})
    await backend.create(k("x", kind="Other"), {})
    page = await backend.list("Thing", None)
    assert [(r.key.namespace, r.key.name) for r in page.records] == [
        ("", "c"), ("p", "a"), ("p", "z"), ("q", "a"), ("q", "b")]
    assert not page.more and page.revision == await backend.revision()
    assert [r.key.name for r in (await backend.list("Thing", "p")).records] == ["a", "z"]
    assert [r.key.name for r in (await backend.list("Thing", "")).records] == ["c"]
    assert (await backend.list("Nothing", None)).records == []


async def test_list_pages_cover_everything_once(backend: Backend) -> None:
    want = set()
    for i in range(23):
        ns = f"ns{i % 3}"
        await backend.create(k(f"o{i:02d}", ns), {})
        want.add((ns, f"o{i:02d}"))
    seen: list[tuple[str, str]] = []
    cursor = None
    for _ in range(20):
        page = await backend.list("Thing", None, start_after=cursor, limit=5)
        assert len(page.records) == 5 or not page.more
        seen += [(r.key.namespace, r.key.name) for r in page.records]
        if not page.more:
            break
        cursor = seen[-1]
        # writes between pages: a new key behind the cursor is not repeated
        await backend.create(k(f"late{len(seen)}", "ns0"), {})
    assert len(seen) == len(set(seen)) and want <= set(seen)
    assert seen == sorted(seen)


# ---- watch ------------------------------------------------------------------------------
async def test_watch_order_types_and_filters(backend: Backend) -> None:
    start = await backend.revision()
    a = await backend.create(k("a"), {"v": 1})
    await backend.create(k("b", ns="other"), {})
    await backend.create(k("c", kind="Other"), {})
    await backend.update(k("a"), {"v": 2}, a.mod_revision)
    deleted = await backend.delete(k("a"))
    end = deleted.mod_revision
    evs = await watch_until(backend, "Thing", "p", start, end)
    assert [(e.type, e.record.value) for e in evs] == [
        ("ADDED", {"v": 1}), ("MODIFIED", {"v": 2}), ("DELETED", {"v": 2})]
    assert evs[-1].revision == deleted.mod_revision == evs[-1].record.mod_revision
    assert [e.record.key.name for e in await watch_until(backend, "Thing", None, start, end)] == [
        "a", "b", "a", "a"]
    all_kinds = await watch_until(backend, None, None, start, end)
    assert [e.revision for e in all_kinds] == list(range(start + 1, end + 1))


async def test_watch_from_any_revision_gives_exactly_the_rest(backend: Backend) -> None:
    start = await backend.revision()
    for i in range(6):
        rec = await backend.create(k(f"r{i}"), {"i": i})
        if i % 2:
            await backend.update(k(f"r{i}"), {"i": -i}, rec.mod_revision)
        if i % 3 == 0:
            await backend.delete(k(f"r{i}"))
    end = await backend.revision()
    full = await watch_until(backend, "Thing", None, start, end)
    for resume in range(start, end):
        rest = await watch_until(backend, "Thing", None, resume, end)
        assert names(rest) == names([e for e in full if e.revision > resume])


async def test_watch_live_after_history_without_gap_or_duplicate(backend: Backend) -> None:
    for i in range(5):
        await backend.create(k(f"h{i}"), {})
    start = 2
    async with aclosing(backend.watch("Thing", None, start)) as stream:
        first = await take(stream, start + 1)
        writer = asyncio.gather(*(backend.create(k(f"live{i}"), {}) for i in range(30)))
        end = max(r.mod_revision for r in await writer)
        rest = await take(stream, end)
    revs = [e.revision for e in first + rest]
    assert revs == list(range(start + 1, end + 1))


async def test_watches_started_during_writes_see_each_revision_once(backend: Backend) -> None:
    """A watch that starts between a commit and its delivery must not see it twice."""
    start = await backend.revision()

    async def writer(t: int) -> None:
        for i in range(30):
            await backend.create(k(f"w{t}-{i:02d}"), {})

    writes = asyncio.gather(*(writer(t) for t in range(10)))
    watches = []
    for j in range(60):  # each starts at a different point of the write stream
        watches.append(asyncio.ensure_future(watch_until(backend, "Thing", None, start, start + 300)))
        await asyncio.sleep(0.0003 * (j % 3))
    await writes
    for got in await asyncio.gather(*watches):
        assert [e.revision for e in got] == list(range(start + 1, start + 301))


async def test_watch_events_are_owned_by_each_receiver(backend: Backend) -> None:
    start = await backend.revision()
    async with aclosing(backend.watch("Thing", None, start)) as one, \
            aclosing(backend.watch("Thing", None, start)) as two:
        got = asyncio.gather(take(one, start + 1), take(two, start + 1))
        await asyncio.sleep(0.05)
        rec = await backend.create(k("a"), {"spec": {"x": 1}})
        rec.value["spec"]["x"] = "writer mutated its result"
        (ev1,), (ev2,) = await got
    assert ev1.record.value == {"spec": {"x": 1}}
    ev1.record.value["spec"]["x"] = "watcher one mutated its event"
    assert ev2.record.value == {"spec": {"x": 1}}
    assert (await backend.get(k("a"))).value == {"spec": {"x": 1}}


async def test_bookmark_when_idle_and_resume_from_it(backend: Backend) -> None:
    await backend.create(k("a"), {})
    await backend.create(k("x", kind="Other"), {})
    rev = await backend.revision()
    async with aclosing(backend.watch("Thing", None, 0)) as stream:
        seen = []
        async for ev in stream:
            seen.append(ev)
            if ev.type == "BOOKMARK":
                break
    assert [e.type for e in seen] == ["ADDED", "BOOKMARK"]
    bookmark = seen[-1].revision
    assert bookmark >= rev
    after = await backend.create(k("b"), {})
    assert names(await watch_until(backend, "Thing", None, bookmark, after.mod_revision)) == [
        ("ADDED", "Thing/p/b", after.mod_revision)]


# ---- retention --------------------------------------------------------------------------
async def test_compaction_keeps_configured_history_and_old_revisions_are_gone(
        backend_factory: Factory) -> None:
    backend = await backend_factory(min_history_revisions=5, min_history_seconds=0)
    for i in range(20):
        await backend.create(k(f"n{i}"), {})
    now = await backend.revision()
    compact = await backend.compact()
    assert compact == now - 5
    with pytest.raises(store.Gone):
        await watch_until(backend, "Thing", None, compact - 1, now)
    kept = await watch_until(backend, "Thing", None, compact, now)
    assert [e.revision for e in kept] == list(range(compact + 1, now + 1))
    assert len((await backend.list("Thing", None)).records) == 20  # state is not history
    await backend.create(k("after"), {})
    assert await backend.compact() == compact + 1


async def test_compaction_respects_min_history_seconds(backend_factory: Factory) -> None:
    backend = await backend_factory(min_history_revisions=2, min_history_seconds=300)
    for i in range(10):
        await backend.create(k(f"n{i}"), {})
    assert await backend.compact() == 0
    assert len(await watch_until(backend, "Thing", None, 0, 10)) == 10


async def test_reopen_keeps_data_revision_history_and_compaction(
        backend_factory: Factory) -> None:
    backend = await backend_factory(min_history_revisions=3, min_history_seconds=0)
    a = await backend.create(k("a"), {"v": 1})
    await backend.update(k("a"), {"v": 2}, a.mod_revision)
    for i in range(8):
        await backend.create(k(f"n{i}", ns="q"), {"i": i})
    await backend.delete(k("n0", ns="q"))
    compact = await backend.compact()
    rev = await backend.revision()
    before = await backend.list("Thing", None)
    await backend.close()

    again = await backend_factory(min_history_revisions=3, min_history_seconds=0)
    assert await again.revision() == rev
    after = await again.list("Thing", None)
    assert [(r.key, r.value, r.create_revision, r.mod_revision) for r in after.records] == [
        (r.key, r.value, r.create_revision, r.mod_revision) for r in before.records]
    with pytest.raises(store.Gone):
        await watch_until(again, "Thing", None, compact - 1, rev)
    assert [e.revision for e in await watch_until(again, "Thing", None, compact, rev)] == list(
        range(compact + 1, rev + 1))
    new = await again.create(k("fresh"), {})
    assert new.mod_revision == rev + 1


# ---- backpressure and lifecycle ---------------------------------------------------------
async def test_watcher_that_falls_behind_gets_gone(backend: Backend, monkeypatch) -> None:
    monkeypatch.setattr(watchhub, "WATCH_QUEUE_LIMIT", 3)
    start = await backend.revision()
    async with aclosing(backend.watch("Thing", None, start)) as slow, \
            aclosing(backend.watch("Thing", None, start)) as fast:
        first = asyncio.ensure_future(take(slow, start + 1))
        fast_events = asyncio.ensure_future(take(fast, start + 10))
        await asyncio.sleep(0.05)
        for i in range(10):  # the fast watcher keeps up, the slow one never reads
            await backend.create(k(f"s{i}"), {})
            await asyncio.sleep(0)
        await first
        assert [e.revision for e in await fast_events] == list(range(start + 1, start + 11))
        with pytest.raises(store.Gone):
            await take(slow, start + 10)


async def test_group_commit_many_writers(backend: Backend) -> None:
    recs = await asyncio.gather(*(backend.create(k(f"g{i:03d}"), {"i": i}) for i in range(200)))
    revs = sorted(r.mod_revision for r in recs)
    assert revs == list(range(revs[0], revs[0] + 200))
    assert len((await backend.list("Thing", None)).records) == 200
    commits = backend.stats().get("commits")
    if commits is not None:
        assert commits < 200


async def test_close_fails_pending_writes_instead_of_hanging(backend_factory: Factory) -> None:
    backend = await backend_factory()
    writes = [asyncio.ensure_future(backend.create(k(f"c{i}"), {})) for i in range(20)]
    await backend.close()
    done, pending = await asyncio.wait(writes, timeout=5)
    assert not pending
    for w in done:
        assert w.exception() is None or isinstance(w.exception(), store.StoreError)
    with pytest.raises(store.StoreError):
        await backend.create(k("late"), {})


async def test_a_failing_write_does_not_stop_the_writer(backend: Backend) -> None:
    with pytest.raises((store.StoreError, OverflowError, TypeError, ValueError)):
        await asyncio.wait_for(backend.create(Key("Thing", "p", 2**70), {}), 5)  # type: ignore[arg-type]
    rec = await asyncio.wait_for(backend.create(k("ok"), {}), 5)
    assert (await backend.get(k("ok"))).mod_revision == rec.mod_revision
