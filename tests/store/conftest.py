"""Backends under test: every store test runs against each (etcd joins later)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kumo import store
from kumo.store.sqlite import SqliteBackend

Factory = Callable[..., "object"]


@pytest.fixture(params=["sqlite"])
def backend_factory(request, tmp_path: Path):
    async def make(**kw) -> store.ObjectStore:
        if request.param == "sqlite":
            backend = await SqliteBackend(tmp_path / "store.db", **kw).open()
            return store.ObjectStore(backend)
        raise AssertionError(request.param)

    return make


@pytest.fixture
async def objects(backend_factory) -> AsyncIterator[store.ObjectStore]:
    st = await backend_factory(bookmark_interval=0.2)
    yield st
    await st.backend.close()
