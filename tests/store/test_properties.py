"""Property tests: no lost update under CAS; the watch stream replays to the list state."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kumo import store

from .conftest import BACKENDS, open_backend, take

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Scenario = Callable[[store.ObjectStore], Awaitable[None]]


def run(backend_name: str, scenario: Scenario) -> None:
    """Run ``scenario`` on a fresh store of ``backend_name`` in its own event loop."""
    async def main() -> None:
        with tempfile.TemporaryDirectory() as d:
            backend = await open_backend(backend_name, Path(d), bookmark_interval=0.02)
            try:
                await scenario(store.ObjectStore(backend))
            finally:
                await backend.close()

    asyncio.run(main())


# ---- (1) compare-and-swap: no lost update ------------------------------------------------
@pytest.mark.parametrize("backend_name", BACKENDS)
@SETTINGS
@given(workers=st.integers(2, 8), increments=st.integers(1, 6),
       pauses=st.lists(st.integers(0, 3), min_size=1, max_size=16))
def test_cas_read_modify_write_loses_no_update(backend_name: str, workers: int, increments: int,
                                               pauses: list[int]) -> None:
    async def scenario(objects: store.ObjectStore) -> None:
        start = await objects.revision()
        await objects.create({"kind": "Counter", "metadata": {"name": "c"}, "spec": {"n": 0}})
        succeeded = 0
        step = 0

        async def pause() -> None:
            nonlocal step
            step += 1
            for _ in range(pauses[step % len(pauses)]):
                await asyncio.sleep(0)

        async def worker() -> None:
            nonlocal succeeded
            done = 0
            while done < increments:
                await pause()
                cur = await objects.get("Counter", "", "c")
                await pause()  # others may write between our read and our write
                cur["spec"]["n"] += 1
                try:
                    await objects.update(cur)
                except store.Conflict:
                    continue
                succeeded += 1
                done += 1

        await asyncio.gather(*(worker() for _ in range(workers)))
        final = await objects.get("Counter", "", "c")
        assert final["spec"]["n"] == succeeded == workers * increments
        async with contextlib.aclosing(objects.watch("Counter", None, start)) as stream:
            evs = await take(stream, int(final["metadata"]["resourceVersion"]))
        assert [e.object["spec"]["n"] for e in evs] == list(range(succeeded + 1))

    run(backend_name, scenario)


# ---- (2) watch order and replay ---------------------------------------------------------
NAMES = st.sampled_from(["a", "b", "c"])
NAMESPACES = st.sampled_from(["x", "y"])
OPS = st.one_of(
    st.tuples(st.just("create"), NAMESPACES, NAMES, st.booleans()),
    st.tuples(st.just("update"), NAMESPACES, NAMES, st.integers(0, 5)),
    st.tuples(st.just("label"), NAMESPACES, NAMES, st.sampled_from(["blue", "green"])),
    st.tuples(st.just("delete"), NAMESPACES, NAMES, st.none()),
    st.tuples(st.just("release"), NAMESPACES, NAMES, st.none()),
)
# batches run concurrently (group commit); batches run one after another
BATCHES = st.lists(st.lists(OPS, min_size=1, max_size=6), min_size=1, max_size=8)


async def apply(objects: store.ObjectStore, op: tuple[str, str, str, Any]) -> None:
    kind, ns, name, arg = op
    if kind == "create":
        await objects.create({"kind": "K", "metadata": {
            "name": name, "namespace": ns, "finalizers": ["f"] if arg else []}, "spec": {"v": 0}})
        return
    if kind == "delete":
        await objects.delete("K", ns, name)
        return
    cur = await objects.get("K", ns, name)
    if kind == "update":
        cur["spec"]["v"] = arg
    elif kind == "label":
        cur["metadata"]["labels"] = {"color": arg}
    else:
        cur["metadata"]["finalizers"] = []
    await objects.update(cur)


def replay(events: list[store.WatchEvent], start: int) -> dict[tuple[str, str], Any]:
    state: dict[tuple[str, str], Any] = {}
    last = start
    for ev in events:
        assert ev.revision > last, "revisions must strictly increase"
        last = ev.revision
        md = ev.object["metadata"]
        key = (md["namespace"], md["name"])
        assert int(md["resourceVersion"]) == ev.revision
        if ev.type == "ADDED":
            assert key not in state
            state[key] = ev.object
        elif ev.type == "MODIFIED":
            assert key in state
            state[key] = ev.object
        else:
            assert ev.type == "DELETED" and key in state
            del state[key]
    return state


@pytest.mark.parametrize("backend_name", BACKENDS)
@SETTINGS
@given(batches=BATCHES)
def test_watch_replay_reconstructs_list(backend_name: str,
                                        batches: list[list[tuple[str, str, str, Any]]]) -> None:
    async def scenario(objects: store.ObjectStore) -> None:
        start = await objects.revision()
        live: list[store.WatchEvent] = []
        stop = asyncio.Event()

        async def follow() -> None:
            async with contextlib.aclosing(objects.watch("K", None, 0)) as stream:
                async for ev in stream:
                    if ev.type != "BOOKMARK":
                        live.append(ev)
                    if stop.is_set() and (live[-1].revision if live else 0) >= end:
                        return

        end = 0
        follower = asyncio.ensure_future(follow())
        await asyncio.sleep(0)
        for batch in batches:
            results = await asyncio.gather(*(apply(objects, op) for op in batch),
                                           return_exceptions=True)
            for r in results:  # races within a batch are fine; anything else is not
                assert r is None or isinstance(r, store.StoreError), r
        end = await objects.revision()
        stop.set()
        listed = await objects.list("K")
        want = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in listed.items}
        assert listed.resource_version == end
        if end == start:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            assert want == {}
            return
        await asyncio.wait_for(follower, 5)
        assert replay(live, start) == want
        async with contextlib.aclosing(objects.watch("K", None, 0)) as stream:
            history = await take(stream, end)
        assert [e.revision for e in history] == [e.revision for e in live]
        assert replay(history, start) == want

    run(backend_name, scenario)
