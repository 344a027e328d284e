"""The store backends every store test runs against, opened by name.

A new backend (etcd) joins by adding its name to ``BACKENDS`` and a branch to
``open_backend`` (and ``check_integrity`` if it has an offline check); the
conformance, object, property, watch and crash tests then run against it
unchanged. Plain module (no pytest): the crash test's writer process imports it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from kumo import store
from kumo.store.backend import Backend
from kumo.store.sqlite import SqliteBackend

BACKENDS = ["sqlite"]


async def open_backend(name: str, data_dir: Path, **kw: Any) -> Backend:
    """Open backend ``name`` on the data kept in ``data_dir`` (reopening finds it again)."""
    if name == "sqlite":
        return await SqliteBackend(Path(data_dir) / "store.db", **kw).open()
    raise AssertionError(f"unknown backend {name}")


async def open_objects(name: str, data_dir: Path, **kw: Any) -> store.ObjectStore:
    return store.ObjectStore(await open_backend(name, data_dir, **kw))


def check_integrity(name: str, data_dir: Path) -> None:
    """The backend's own offline consistency check, where it has one."""
    if name == "sqlite":
        with closing(sqlite3.connect(Path(data_dir) / "store.db")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
