"""SQLite backend: WAL, synchronous=FULL, group commit.

One writer thread owns the write connection. Writes queue up while a commit is in
flight and the next batch shares one transaction and one fsync, so 32 concurrent writers
cost about as many fsyncs as one. Reads use a second connection on the event loop
thread (WAL readers never block the writer); big list pages are decoded on a thread.

Tables: ``kv`` holds the current value of every key; ``log`` holds one row per
revision (the watch history), compacted to at least ``min_history_revisions``
revisions and ``min_history_seconds`` of history.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .backend import Event, Key, Page, Record, owned, page_size
from .errors import AlreadyExists, Conflict, Gone, NotFound, StoreError
from .health import WriterHealth
from .watchhub import WatchHub

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
  kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
  create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (kind, ns, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
  rev INTEGER PRIMARY KEY, kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
  type TEXT NOT NULL, create_rev INTEGER NOT NULL, value TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
"""

_STOP = object()
DECODE_INLINE = 32  # pages with more rows are decoded off the event loop
WATCH_DRAIN_BATCH = 256  # queued events a watcher takes before yielding to the loop
Op = Callable[[sqlite3.Connection, int], tuple[Any, list[Event]]]


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class SqliteBackend:
    """Revisioned KV on one SQLite file; bound to the event loop that opens it."""

    def __init__(
        self, path: str | Path, *, min_history_revisions: int = 1000,
        min_history_seconds: float = 300.0, bookmark_interval: float = 5.0,
        max_batch: int = 512,
    ) -> None:
        self.path = str(path)
        self.min_history_revisions = min_history_revisions
        self.min_history_seconds = min_history_seconds
        self.bookmark_interval = bookmark_interval
        self.max_batch = max_batch
        self.hub = WatchHub()
        self._ops: queue.Queue[Any] = queue.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._reader: sqlite3.Connection | None = None
        self._decoder = ThreadPoolExecutor(2, thread_name_prefix="kumo-sqlite-decode")
        self._rev = 0
        self.compact_revision = 0
        self.commits = 0
        self.ops_committed = 0
        self.last_compaction: float | None = None
        self.health = WriterHealth()  # for kumo doctor (store/health.py)

    # ---- lifecycle -------------------------------------------------------
    async def open(self) -> SqliteBackend:
        self._loop = asyncio.get_running_loop()
        self._closing = False
        writer = self._connect()
        writer.executescript(SCHEMA)
        row = writer.execute("SELECT max(rev) FROM log").fetchone()
        meta = dict(writer.execute("SELECT k, v FROM meta").fetchall())
        self._rev = max(row[0] or 0, meta.get("rev", 0))
        self.compact_revision = meta.get("compact_rev", 0)
        self.hub.delivered_revision = self._rev
        self._reader = self._connect()
        self._thread = threading.Thread(
            target=self._writer_main, args=(writer,), name="kumo-sqlite-writer", daemon=True)
        self._thread.start()
        return self

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    async def close(self) -> None:
        if self._thread is None:
            return
        self._closing = True
        self._ops.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        while not self._ops.empty():  # queued behind _STOP: fail them, never leave them hanging
            item = self._ops.get_nowait()
            if item is not _STOP and not item[1].done():
                item[1].set_exception(StoreError("store is closed"))
        self.hub.close_all()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._decoder.shutdown(wait=False)
        self._decoder = ThreadPoolExecutor(2, thread_name_prefix="kumo-sqlite-decode")

    # ---- the writer thread ---------------------------------------------
    def _writer_main(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._ops.get()
            if first is _STOP:
                break
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._ops.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._run_batch(conn, batch)
            if stop:
                break
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[tuple[Op, asyncio.Future]]) -> None:
        start_rev = self._rev
        results: list[tuple[asyncio.Future, Any, BaseException | None]] = []
        events: list[Event] = []
        self.health.begin()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op, fut in batch:
                conn.execute("SAVEPOINT op")
                try:
                    res, evs = op(conn, self._rev)
                except Exception as exc:  # fails this op only; the writer thread lives on
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    results.append((fut, None, exc))
                    continue
                conn.execute("RELEASE op")
                if evs:
                    self._rev = evs[-1].revision
                events.extend(evs)
                results.append((fut, res, None))
            if self._rev != start_rev:
                conn.execute("INSERT INTO meta(k, v) VALUES('rev', ?) ON CONFLICT(k) DO UPDATE "
                             "SET v=excluded.v", (self._rev,))
            conn.execute("COMMIT")
            self.commits += 1
            self.health.done(None)
            self.ops_committed += len(events)
        except sqlite3.Error as exc:
            self._rev = start_rev
            self.health.done(str(exc))
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            err = StoreError(f"commit failed: {exc}")
            results = [(fut, None, err) for _, fut in batch]
            events = []
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._deliver, events, results)

    def _deliver(self, events: list[Event], results: list[tuple[asyncio.Future, Any, Any]]) -> None:
        self.hub.publish(events)
        for fut, res, exc in results:
            if fut.done():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(res)

    async def _submit(self, op: Op) -> Any:
        if self._thread is None or self._closing:
            raise StoreError("store is closed")
        assert self._loop is not None
        fut = self._loop.create_future()
        self._ops.put((op, fut))
        return await fut

    # ---- writes ----------------------------------------------------------
    @staticmethod
    def _current(conn: sqlite3.Connection, key: Key) -> tuple[int, int, str] | None:
        return conn.execute("SELECT create_rev, mod_rev, value FROM kv WHERE kind=? AND ns=? "
                            "AND name=?", (key.kind, key.namespace, key.name)).fetchone()

    @staticmethod
    def _append(conn: sqlite3.Connection, rev: int, key: Key, typ: str, create_rev: int,
                text: str) -> None:
        conn.execute(
            "INSERT INTO log(rev, kind, ns, name, type, create_rev, value, ts) VALUES (?,?,?,?,?,?,?,?)",
            (rev, key.kind, key.namespace, key.name, typ, create_rev, text, time.time()))

    async def create(self, key: Key, value: dict[str, Any]) -> Record:
        text = _dumps(value)

        def op(conn: sqlite3.Connection, rev: int) -> tuple[Record, list[Event]]:
            if self._current(conn, key) is not None:
                raise AlreadyExists(str(key))
            rev += 1
            conn.execute("INSERT INTO kv VALUES (?,?,?,?,?,?)",
                         (key.kind, key.namespace, key.name, rev, rev, text))
            self._append(conn, rev, key, "ADDED", rev, text)
            rec = Record(key, json.loads(text), rev, rev)
            return rec, [owned(Event("ADDED", rev, rec))]

        return await self._submit(op)

    async def update(self, key: Key, value: dict[str, Any], expected_revision: int) -> Record:
        text = _dumps(value)

        def op(conn: sqlite3.Connection, rev: int) -> tuple[Record, list[Event]]:
            cur = self._current(conn, key)
            if cur is None:
                raise NotFound(str(key))
            if cur[1] != expected_revision:
                raise Conflict(f"{key}: revision {expected_revision} is stale, current is {cur[1]}")
            rev += 1
            conn.execute("UPDATE kv SET mod_rev=?, value=? WHERE kind=? AND ns=? AND name=?",
                         (rev, text, key.kind, key.namespace, key.name))
            self._append(conn, rev, key, "MODIFIED", cur[0], text)
            rec = Record(key, json.loads(text), cur[0], rev)
            return rec, [owned(Event("MODIFIED", rev, rec))]

        return await self._submit(op)

    async def delete(self, key: Key, expected_revision: int | None = None) -> Record:
        def op(conn: sqlite3.Connection, rev: int) -> tuple[Record, list[Event]]:
            cur = self._current(conn, key)
            if cur is None:
                raise NotFound(str(key))
            if expected_revision not in (None, cur[1]):
                raise Conflict(f"{key}: revision {expected_revision} is stale, current is {cur[1]}")
            rev += 1
            conn.execute("DELETE FROM kv WHERE kind=? AND ns=? AND name=?",
                         (key.kind, key.namespace, key.name))
            self._append(conn, rev, key, "DELETED", cur[0], cur[2])
            rec = Record(key, json.loads(cur[2]), cur[0], rev)
            return rec, [owned(Event("DELETED", rev, rec))]

        return await self._submit(op)

    async def compact(self) -> int:
        """Drop history older than both retention bounds; returns the compact revision."""

        def op(conn: sqlite3.Connection, rev: int) -> tuple[int, list[Event]]:
            by_count = rev - self.min_history_revisions
            row = conn.execute("SELECT max(rev) FROM log WHERE ts < ?",
                               (time.time() - self.min_history_seconds,)).fetchone()
            target = min(by_count, row[0] or 0)
            if target > self.compact_revision:
                conn.execute("DELETE FROM log WHERE rev <= ?", (target,))
                conn.execute("INSERT INTO meta(k, v) VALUES('compact_rev', ?) "
                             "ON CONFLICT(k) DO UPDATE SET v=excluded.v", (target,))
                self.compact_revision = target
            self.last_compaction = time.time()
            return self.compact_revision, []

        return await self._submit(op)

    # ---- reads -----------------------------------------------------------
    def _read(self) -> sqlite3.Connection:
        if self._reader is None:
            raise StoreError("store is closed")
        return self._reader

    async def get(self, key: Key) -> Record | None:
        row = self._current(self._read(), key)
        if row is None:
            return None
        return Record(key, json.loads(row[2]), row[0], row[1])

    async def revision(self) -> int:
        return (self._read().execute("SELECT v FROM meta WHERE k='rev'").fetchone() or [0])[0]

    async def count(self, kind: str, namespace: str | None) -> int:  # no decode
        sql, args = _scoped("SELECT COUNT(*) FROM kv WHERE 1", [], kind, namespace)
        return int(self._read().execute(sql, args).fetchone()[0])

    async def list(
        self, kind: str, namespace: str | None, *, start_after: tuple[str, str] | None = None,
        limit: int = 0,
    ) -> Page:
        """One bounded page; a big one is decoded on a thread so relists leave the loop free."""
        conn = self._read()
        sql, args = _scoped("SELECT ns, name, create_rev, mod_rev, value FROM kv WHERE 1",
                            [], kind, namespace)
        if start_after is not None:
            sql += " AND (ns, name) > (?, ?)"
            args.extend(start_after)
        limit = page_size(limit)
        sql, args = sql + " ORDER BY ns, name LIMIT ?", [*args, limit + 1]
        conn.execute("BEGIN")
        try:
            row = conn.execute("SELECT v FROM meta WHERE k='rev'").fetchone()
            rows = conn.execute(sql, args).fetchall()
        finally:
            conn.execute("COMMIT")
        more, rows = len(rows) > limit, rows[:limit]
        if len(rows) <= DECODE_INLINE:
            recs = _decode(kind, rows)
        else:
            assert self._loop is not None
            recs = await self._loop.run_in_executor(self._decoder, _decode, kind, rows)
        return Page(recs, row[0] if row else 0, more)

    # ---- watch -----------------------------------------------------------
    async def watch(
        self, kind: str | None, namespace: str | None, from_revision: int,
        match: Callable[[dict[str, Any]], bool] | None = None, *, shared: bool = False,
    ) -> AsyncIterator[Event]:
        """Events after from_revision, then live ones; ``match`` filters them in the hub."""
        if from_revision < self.compact_revision:
            raise Gone(f"revision {from_revision} is compacted (oldest is {self.compact_revision})")
        w = self.hub.add(kind, namespace, match)
        try:
            last = from_revision
            for ev in self._history(kind, namespace, from_revision):
                last = ev.revision
                yield ev
            if from_revision < self.compact_revision:
                raise Gone(f"revision {from_revision} was compacted while replaying")
            drained = 0
            while True:
                if not w.queue.empty() and drained < WATCH_DRAIN_BATCH:
                    ev = w.queue.get_nowait()  # a backlog needs no timer per event
                    drained += 1
                else:
                    drained = 0
                    try:
                        ev = await asyncio.wait_for(w.queue.get(), self.bookmark_interval)
                    except TimeoutError:
                        if w.queue.empty():
                            last = max(last, self.hub.delivered_revision)
                            yield Event("BOOKMARK", last)
                        continue
                if ev is None:
                    if w.overflowed:
                        raise Gone("watcher fell too far behind; re-list")
                    return
                if ev.revision <= last:
                    continue
                last = ev.revision
                yield ev if shared else owned(ev)
        finally:
            self.hub.remove(w)

    def _history(self, kind: str | None, namespace: str | None, after: int) -> list[Event]:
        sql, args = _scoped(
            "SELECT rev, kind, ns, name, type, create_rev, value FROM log WHERE rev > ?",
            [after], kind, namespace)
        rows = self._read().execute(sql + " ORDER BY rev", args).fetchall()
        return [Event(typ, rev, Record(Key(k, ns, n), json.loads(v), c, rev))
                for rev, k, ns, n, typ, c, v in rows]

    def stats(self) -> dict[str, Any]:
        return {"backend": "sqlite", "path": self.path, "revision": self._rev,
                "compact_revision": self.compact_revision, "watchers": len(self.hub.watchers),
                "queued_writes": self._ops.qsize(), "commits": self.commits,
                "ops_committed": self.ops_committed, "last_compaction": self.last_compaction,
                "events_delivered": self.hub.events_delivered,
                "min_history_revisions": self.min_history_revisions,
                "min_history_seconds": self.min_history_seconds, **self.health.view(self.hub)}


def _decode(kind: str, rows: list[tuple[str, str, int, int, str]]) -> list[Record]:
    return [Record(Key(kind, ns, name), json.loads(v), c, m) for ns, name, c, m, v in rows]


def _scoped(sql: str, args: list[Any], kind: str | None,
            namespace: str | None) -> tuple[str, list[Any]]:
    """Narrow a query to one kind and/or namespace (None means all)."""
    if kind is not None:
        sql += " AND kind=?"
        args.append(kind)
    if namespace is not None:
        sql += " AND ns=?"
        args.append(namespace)
    return sql, args
