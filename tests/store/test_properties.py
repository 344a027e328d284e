"""Property tests: no lost update under CAS, watch replay reconstructs the state."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kumo import store

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


def run(coro_fn) -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as d:
            objects = await store.open_sqlite(str(Path(d) / "s.db"))
            try:
                await coro_fn(objects)
            finally:
                await objects.backend.close()

    asyncio.run(main())


@SETTINGS
@given(workers=st.integers(2, 8), increments=st.integers(1, 8),
       yields=st.lists(st.integers(0, 2), min_size=1, max_size=5))
def test_cas_no_lost_update(workers: int, increments: int, yields: list[int]) -> None:
    async def scenario(objects: store.ObjectStore) -> None:
        await objects.create({"kind": "C", "metadata": {"name": "c"}, "spec": {"n": 0}})
        ok = 0

        async def worker(i: int) -> None:
            nonlocal ok
            for j in range(increments):
                while True:
                    cur = await objects.get("C", "", "c")
                    for _ in range(yields[(i + j) % len(yields)]):
                        await asyncio.sleep(0)
                    cur["spec"]["n"] += 1
                    try:
                        await objects.update(cur)
                        ok += 1
                        break
                    except store.Conflict:
                        continue

        await asyncio.gather(*(worker(i) for i in range(workers)))
        final = await objects.get("C", "", "c")
        assert final["spec"]["n"] == ok == workers * increments

    run(scenario)


ops = st.lists(st.tuples(st.sampled_from(["create", "update", "delete"]),
                         st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 9)),
               min_size=1, max_size=40)


@SETTINGS
@given(ops=ops)
def test_watch_replay_reconstructs_list(ops) -> None:
    async def scenario(objects: store.ObjectStore) -> None:
        start = await objects.revision()
        for op, name, val in ops:
            cur = await objects.try_get("K", "ns", name)
            if op == "create" and cur is None:
                await objects.create({"kind": "K", "metadata": {"name": name, "namespace": "ns"},
                                      "spec": {"v": val}})
            elif op == "update" and cur is not None:
                cur["spec"]["v"] = val
                await objects.update(cur)
            elif op == "delete" and cur is not None:
                await objects.delete("K", "ns", name)
        end = await objects.revision()
        state: dict[str, dict] = {}
        last = start
        if end > start:
            async for ev in objects.watch("K", "ns", start):
                if ev.type == "BOOKMARK":
                    continue
                assert ev.revision > last
                last = ev.revision
                if ev.type == "DELETED":
                    state.pop(ev.object["metadata"]["name"])
                else:
                    state[ev.object["metadata"]["name"]] = ev.object
                if ev.revision == end:
                    break
        listed = {o["metadata"]["name"]: o for o in (await objects.list("K", "ns")).items}
        assert state == listed

    run(scenario)
