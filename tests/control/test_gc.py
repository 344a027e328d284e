"""Garbage collection: dependents of a deleted owner are deleted (background)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from kumo import store
from kumo.control.gc import GarbageCollector


async def test_dependents_follow_their_owner(tmp_path: Path) -> None:
    objects = await store.open_sqlite(str(tmp_path / "s.db"))
    try:
        owner = await objects.create({"kind": "ConfigMap", "metadata": {
            "name": "owner", "namespace": "p"}})
        ref = [{"kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]
        await objects.create({"kind": "ConfigMap", "metadata": {
            "name": "child", "namespace": "p", "ownerReferences": ref}})
        await objects.create({"kind": "ConfigMap", "metadata": {"name": "bystander",
                                                                "namespace": "p"}})
        gc = GarbageCollector(objects)
        for o in (await objects.list("ConfigMap")).items:
            gc._index(o)
        rev = await objects.revision()

        async def feed() -> None:
            async for ev in objects.watch("ConfigMap", None, rev):
                if ev.type != "BOOKMARK":
                    gc.on_change(ev.type, ev.object)

        tasks = [asyncio.create_task(feed()), asyncio.create_task(gc.worker())]
        await objects.delete("ConfigMap", "p", "owner")
        deadline = time.time() + 5
        while (await objects.try_get("ConfigMap", "p", "child") is not None
               or gc.deleted < 1):  # the row goes before the collector's delete() returns
            assert time.time() < deadline, "dependent was not collected"
            await asyncio.sleep(0.02)
        assert await objects.try_get("ConfigMap", "p", "bystander") is not None
        assert gc.deleted == 1
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await objects.backend.close()
