"""A label-selected watch gets only its objects' live events, filtered before the copy."""

from __future__ import annotations

import asyncio
import sys
from contextlib import aclosing

from kumo import store
from kumo.store import backend as backend_mod

from .conftest import take


def thing(name: str, host: str) -> dict:
    return {"kind": "Thing", "metadata": {"name": name, "namespace": "p",
                                          "labels": {"kumo.io/host": host}}, "spec": {}}


async def test_selected_watch_skips_and_never_copies_other_objects(
        objects: store.ObjectStore, monkeypatch) -> None:
    copied: list[str] = []
    real = backend_mod.owned

    def counting(ev: backend_mod.Event) -> backend_mod.Event:
        copied.append(ev.record.key.name if ev.record is not None else "")
        return real(ev)

    monkeypatch.setattr(sys.modules[type(objects.backend).__module__], "owned", counting)

    async def writes(tag: str) -> int:
        before = len(copied)
        for i in range(5):
            await objects.create(thing(f"{tag}-other{i}", "h2"))
        await objects.create(thing(f"{tag}-mine", "h1"))
        await asyncio.sleep(0.05)
        return len(copied) - before

    base = await writes("a")  # the writers' own copies, no watcher
    start = await objects.revision()
    stream = objects.watch("Thing", "p", start, label_selector="kumo.io/host=h1")
    async with aclosing(stream):
        got = asyncio.ensure_future(take(stream, start + 6))
        await asyncio.sleep(0.05)  # the watch is live: what follows is fan-out, not replay
        watched = await writes("b")
        events = await got
    assert [e.object["metadata"]["name"] for e in events] == ["b-mine"]
    assert watched == base + 1  # one copy for the watcher: its own object only


async def test_count_matches_list_per_kind_and_namespace(objects: store.ObjectStore) -> None:
    for i in range(3):
        await objects.create(thing(f"t{i}", "h1"))
    await objects.create({**thing("q0", "h1"), "metadata": {"name": "q0", "namespace": "q"}})
    await objects.delete("Thing", "p", "t0")
    assert await objects.count("Thing", "p") == len((await objects.list("Thing", "p")).items) == 2
    assert await objects.count("Thing") == 3
    assert await objects.count("Other", "p") == 0


def test_hub_offers_an_event_only_to_its_kind_and_to_all_kind_watchers() -> None:
    from kumo.store.backend import Event, Key, Record
    from kumo.store.watchhub import WatchHub

    hub = WatchHub()
    lease, server, every = hub.add("Lease", None), hub.add("Server", None), hub.add(None, None)
    hub.publish([Event("MODIFIED", 7, Record(Key("Lease", "", "h1"), {}, 1, 7))])
    assert (lease.queue.qsize(), server.queue.qsize(), every.queue.qsize()) == (1, 0, 1)
    hub.remove(lease)
    hub.publish([Event("MODIFIED", 8, Record(Key("Lease", "", "h1"), {}, 1, 8))])
    assert (lease.queue.qsize(), every.queue.qsize()) == (1, 2)
    assert "Lease" not in hub.by_kind and hub.delivered_revision == 8


async def test_shared_watches_get_the_hub_event_others_a_copy(objects: store.ObjectStore) -> None:
    """HTTP streams (``shared``) read the hub's one event, so it is encoded once for all
    of them; in-process watchers still get their own copy to keep."""
    start = await objects.revision()
    a, b = (objects.watch("Thing", "p", start, shared=True) for _ in range(2))
    own = objects.watch("Thing", "p", start)
    async with aclosing(a), aclosing(b), aclosing(own):
        got = [asyncio.ensure_future(take(s, start + 1)) for s in (a, b, own)]
        await asyncio.sleep(0.05)
        await objects.create(thing("t", "h1"))
        (ea,), (eb,), (eo,) = [await g for g in got]
    assert ea.source is eb.source and ea.object is eb.object
    assert eo.object is not ea.object and eo.object == ea.object
    assert ea.object["metadata"]["resourceVersion"] == str(start + 1)
    calls: list[str] = []

    def encode(typ: str, obj: object) -> bytes:
        calls.append(typ)
        return repr((typ, obj)).encode()

    assert ea.encoded(encode) is eb.encoded(encode) and calls == ["ADDED"]
