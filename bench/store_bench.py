"""Store benchmark: durable creates/s (1 and 32 writers), watch latency with 100 watchers.

Baseline in the same run: raw SQLite single-row durable transactions/s
(synchronous=FULL, WAL), the ceiling without group commit.
    .venv/bin/python bench/store_bench.py
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from kumo import store

ROOT = Path(__file__).resolve().parent.parent / ".bench-tmp"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def raw_sqlite(path: Path, n: int = 1000) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    t = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (?, ?)", (f"k{i}", "{}"))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - t)
    conn.close()
    return rate


async def creates(objects: store.ObjectStore, writers: int, total: int, tag: str) -> float:
    per = total // writers

    async def writer(w: int) -> None:
        for i in range(per):
            await objects.create({"kind": "Bench", "metadata": {
                "name": f"{tag}-{w}-{i}", "namespace": "p"}, "spec": {"i": i}})

    t = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return per * writers / (time.perf_counter() - t)


async def watch_latency(objects: store.ObjectStore, watchers: int, writes: int) -> list[float]:
    sent: dict[str, float] = {}
    lat: list[float] = []
    rev = await objects.revision()
    done = asyncio.Event()
    received = 0

    async def watcher() -> None:
        nonlocal received
        async for ev in objects.watch("Lat", None, rev):
            if ev.type == "ADDED":
                lat.append(time.perf_counter() - sent[ev.object["metadata"]["name"]])
                received += 1
                if received >= watchers * writes:
                    done.set()
                if ev.object["metadata"]["name"] == f"l{writes - 1}":
                    return

    tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
    await asyncio.sleep(0.1)
    for i in range(writes):
        sent[f"l{i}"] = time.perf_counter()
        await objects.create({"kind": "Lat", "metadata": {"name": f"l{i}"}})
        await asyncio.sleep(0.005)
    await asyncio.wait_for(done.wait(), 60)
    await asyncio.gather(*tasks)
    return lat


async def main() -> None:
    ROOT.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=ROOT))
    try:
        base = raw_sqlite(tmp / "raw.db")
        objects = await store.open_sqlite(str(tmp / "store.db"))
        one = await creates(objects, 1, 1000, "one")
        c0 = objects.backend.stats()["commits"]
        many = await creates(objects, 32, 8000, "many")
        commits = objects.backend.stats()["commits"] - c0
        lat = await watch_latency(objects, 100, 300)
        await objects.backend.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"raw SQLite durable single-row transactions: {base:,.0f}/s (baseline)")
    print(f"store durable creates, 1 writer:   {one:,.0f}/s ({one / base:.2f}x baseline)")
    print(f"store durable creates, 32 writers: {many:,.0f}/s ({many / base:.2f}x baseline, "
          f"{many / one:.1f}x one writer; 8000 writes in {commits} commits) (goal >= 2,000/s)")
    print(f"watch delivery, 100 watchers x 300 writes: p50 {statistics.median(lat) * 1e3:.2f} ms, "
          f"p99 {pct(lat, 0.99) * 1e3:.2f} ms (goal p99 < 50 ms)")


if __name__ == "__main__":
    asyncio.run(main())
