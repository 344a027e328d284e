"""Bounded pagination: no limit, however hostile, makes a list unbounded or endless.

Before: a negative ``limit`` made the SQLite page empty with ``more`` set, and
``ObjectStore.list`` asked again from the same cursor forever (the event loop
never got back control: one GET hung the whole API).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kumo import store
from kumo.store.backend import MAX_PAGE, Backend, Page, page_size

N = MAX_PAGE * 2 + 7


class Counting:
    """A backend wrapper that counts lists and gives up when a caller spins."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.lists = 0
        self.sizes: list[int] = []

    async def list(self, *a: Any, **kw: Any) -> Page:
        self.lists += 1
        if self.lists > 100:
            raise AssertionError("list is spinning")
        page = await self.inner.list(*a, **kw)
        self.sizes.append(len(page.records))
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _fill(objects: store.ObjectStore, n: int) -> None:
    await asyncio.gather(*(objects.create({"kind": "Thing", "metadata": {
        "name": f"t{i:05d}", "namespace": "ns"}}) for i in range(n)))


def test_page_size_clamps() -> None:
    assert page_size(0) == MAX_PAGE
    assert page_size(-1) == MAX_PAGE
    assert page_size(-(10**9)) == MAX_PAGE
    assert page_size(10**12) == MAX_PAGE
    assert page_size(7) == 7


async def test_backend_pages_are_bounded(backend: Backend) -> None:
    await _fill(store.ObjectStore(backend), N)
    for limit in (0, -1, -5, 10**9):
        page = await backend.list("Thing", "ns", limit=limit)
        assert len(page.records) == MAX_PAGE, limit
        assert page.more
    page = await backend.list("Thing", "ns", start_after=("ns", f"t{N - 3:05d}"), limit=-1)
    assert [r.key.name for r in page.records] == [f"t{N - 2:05d}", f"t{N - 1:05d}"]
    assert not page.more


async def test_negative_limit_returns_one_bounded_page(backend: Backend) -> None:
    counting = Counting(backend)
    objects = store.ObjectStore(counting)  # type: ignore[arg-type]
    await _fill(objects, N)
    for limit in (-1, -1000, 10**9):
        got = await objects.list("Thing", "ns", limit=limit)
        assert len(got.items) == MAX_PAGE
        assert got.continue_token is not None
    assert counting.lists == 3
    rest = await objects.list("Thing", "ns", limit=-1, continue_token=got.continue_token)
    assert rest.items[0]["metadata"]["name"] == f"t{MAX_PAGE:05d}"


async def test_full_list_reads_bounded_pages(backend: Backend) -> None:
    counting = Counting(backend)
    objects = store.ObjectStore(counting)  # type: ignore[arg-type]
    await _fill(objects, N)
    got = await objects.list("Thing", "ns")
    assert [o["metadata"]["name"] for o in got.items] == [f"t{i:05d}" for i in range(N)]
    assert got.continue_token is None
    assert max(counting.sizes) <= MAX_PAGE and counting.lists == 3


async def test_a_page_that_never_advances_ends_the_list(backend: Backend) -> None:
    class Stuck(Counting):
        async def list(self, *a: Any, **kw: Any) -> Page:
            self.lists += 1
            if self.lists > 100:
                raise AssertionError("list is spinning")
            return Page([], 1, True)

    objects = store.ObjectStore(Stuck(backend))  # type: ignore[arg-type]
    got = await objects.list("Thing", "ns")
    assert got.items == [] and got.continue_token is None
