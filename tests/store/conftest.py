"""Backends under test: every store test runs against each of ``backends.BACKENDS``.

``make(**kw)`` takes the retention and bookmark knobs
(``min_history_revisions``, ``min_history_seconds``, ``bookmark_interval``);
calling it twice in one test reopens the same data.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from kumo import store
from kumo.store.backend import Backend, Event

from .backends import BACKENDS, open_backend

Factory = Callable[..., Awaitable[Backend]]


@pytest.fixture(params=BACKENDS)
async def backend_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    """Opens backends on this test's data dir; closes them and fails on leaked tasks."""
    opened: list[Backend] = []

    async def make(**kw: Any) -> Backend:
        backend = await open_backend(request.param, tmp_path, **kw)
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        await backend.close()
    for _ in range(3):  # let abandoned watch generators finalize
        await asyncio.sleep(0)
    me = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    assert not leaked, f"test left tasks behind: {leaked}"


@pytest.fixture
async def backend(backend_factory: Factory) -> Backend:
    return await backend_factory(bookmark_interval=0.2)


@pytest.fixture
def objects(backend: Backend) -> store.ObjectStore:
    return store.ObjectStore(backend)


async def take(stream: AsyncIterator[Any], until: int, *, timeout: float = 5.0) -> list[Any]:
    """Non-bookmark events from ``stream`` up to and including revision ``until``."""
    out: list[Any] = []

    async def run() -> None:
        async for ev in stream:
            if ev.type != "BOOKMARK":
                out.append(ev)
            if ev.revision >= until:
                return

    await asyncio.wait_for(run(), timeout)
    return out


async def watch_until(backend: Backend, kind: str | None, namespace: str | None,
                      from_revision: int, until: int) -> list[Event]:
    """A closed watch's events in (from_revision, until]."""
    async with aclosing(backend.watch(kind, namespace, from_revision)) as stream:
        return await take(stream, until)
