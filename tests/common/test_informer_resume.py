"""A broken watch stream resumes from the last revision; only repeated failures re-list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from kumo.common.informer import RELIST_AFTER, Informer

Obj = dict[str, Any]


def thing(name: str) -> Obj:
    return {"kind": "Thing", "metadata": {"name": name, "namespace": "p"}}


class FlakySource:
    """Lists one object at revision 1; each watch yields one new object, then breaks."""

    name = "things"

    def __init__(self, breaks: int) -> None:
        self.breaks = breaks
        self.lists = 0
        self.watched_from: list[int] = []

    async def list(self) -> tuple[list[Obj], int]:
        self.lists += 1
        return [thing("a")], 1

    async def watch(self, revision: int) -> AsyncIterator[tuple[str, Obj | None, int]]:
        self.watched_from.append(revision)
        if len(self.watched_from) > self.breaks:
            await asyncio.sleep(3600)
        yield "ADDED", thing(f"n{revision}"), revision + 1
        raise ConnectionResetError("server went away")


async def test_transport_failure_resumes_without_relist() -> None:
    src = FlakySource(breaks=RELIST_AFTER - 1)
    inf = Informer(src, retry_delay=0.01)
    task = asyncio.create_task(inf.run())
    try:
        for _ in range(200):
            if len(src.watched_from) > src.breaks:
                break
            await asyncio.sleep(0.01)
        # every broken stream was resumed where it stopped; the list was read once
        assert src.watched_from == list(range(1, src.breaks + 2))
        assert src.lists == 1 and inf.relists == 1
        assert {k[1] for k in inf.items} == {"a", *(f"n{i}" for i in range(1, src.breaks + 1))}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_failures_without_progress_end_in_a_relist() -> None:
    class Dead(FlakySource):
        async def watch(self, revision: int) -> AsyncIterator[tuple[str, Obj | None, int]]:
            self.watched_from.append(revision)
            raise ConnectionResetError("refused")
            yield  # an async generator that never yields

    src = Dead(breaks=0)
    inf = Informer(src, retry_delay=0.001)
    task = asyncio.create_task(inf.run())
    try:
        for _ in range(500):
            if src.lists >= 2:
                break
            await asyncio.sleep(0.01)
        assert src.lists >= 2 and len(src.watched_from) >= RELIST_AFTER
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
