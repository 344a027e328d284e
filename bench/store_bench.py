"""Store benchmark: durable creates/s and watch delivery latency of the SQLite store.

    .venv/bin/python bench/store_bench.py [--writes 4000] [--watchers 100]

Prints, on a file on real disk (never tmpfs, where fsync is free):
  - raw SQLite baseline: single-row INSERT transactions/s, WAL + synchronous=FULL,
    one fsync each: the ceiling for a store without group commit;
  - store durable creates/s with 1 writer and with 32 concurrent writers, the
    ratio, and how many commits (= fsync groups) each took (goal: >= 2,000/s at 32);
  - watch delivery latency with 100 watchers, from the create call to each watcher
    holding the event, for paced writes and for a 32-writer burst (goal: p99 < 50 ms).
No asserts: it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

from kumo import store

REPO = Path(__file__).resolve().parent.parent
RAM_FILESYSTEMS = {"tmpfs", "ramfs", "devtmpfs"}


def fs_type(path: Path) -> str:
    """Filesystem type of the mount holding ``path`` (from /proc/mounts)."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    target = str(path.resolve())
    for line in mounts:
        _dev, mnt, typ, *_ = line.split()
        inside = target == mnt or target.startswith(mnt.rstrip("/") + "/")
        if inside and len(mnt) > len(best):
            best, kind = mnt, typ
    return kind


def bench_dir() -> tuple[Path, Path | None]:
    """A fresh directory on real disk; also returns a parent to remove if we made it."""
    tmp = Path(tempfile.gettempdir())
    if fs_type(tmp) not in RAM_FILESYSTEMS:
        return Path(tempfile.mkdtemp(prefix="kumo-store-bench-", dir=tmp)), None
    root = REPO / ".bench-tmp"
    made = None if root.exists() else root
    root.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="store-", dir=root)), made


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def raw_sqlite(path: Path, n: int) -> float:
    """Single-row durable INSERT transactions per second."""
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


async def creates(objects: store.ObjectStore, writers: int, total: int, tag: str
                  ) -> tuple[float, int]:
    """Creates/s with ``writers`` concurrent tasks, and the commits they took."""
    per = total // writers
    commits0 = objects.backend.stats()["commits"]

    async def writer(w: int) -> None:
        for i in range(per):
            await objects.create({"kind": "Bench", "metadata": {
                "name": f"{tag}-{w}-{i}", "namespace": "p", "labels": {"w": str(w)}},
                "spec": {"i": i, "image": "cirros", "flavor": "m1.tiny"}})

    t = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    rate = per * writers / (time.perf_counter() - t)
    return rate, objects.backend.stats()["commits"] - commits0


async def watch_latency(objects: store.ObjectStore, watchers: int, writes: int,
                        writers: int, kind: str) -> list[float]:
    """Seconds from each create call to each watcher holding its event."""
    sent: dict[str, float] = {}
    lat: list[float] = []
    rev = await objects.revision()
    started = asyncio.Event()
    ready = 0

    async def watcher() -> None:
        nonlocal ready
        got = 0
        async with aclosing(objects.watch(kind, None, rev)) as stream:
            ready += 1
            if ready == watchers:
                started.set()
            async for ev in stream:
                if ev.type == "ADDED":
                    lat.append(time.perf_counter() - sent[ev.object["metadata"]["name"]])
                    got += 1
                    if got == writes:
                        return

    async def writer(w: int) -> None:
        for i in range(writes // writers):
            name = f"{w}-{i}"
            sent[name] = time.perf_counter()
            await objects.create({"kind": kind, "metadata": {"name": name}})
            if writers == 1:
                await asyncio.sleep(0.005)  # paced: measure delivery, not queueing

    tasks = [asyncio.ensure_future(watcher()) for _ in range(watchers)]
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.05)  # every watcher is past its (empty) history
    await asyncio.gather(*(writer(w) for w in range(writers)))
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return lat


def ms(x: float) -> str:
    return f"{x * 1e3:.2f} ms"


async def main(writes: int, watchers: int) -> None:
    tmp, made = bench_dir()
    print(f"data dir {tmp} ({fs_type(tmp)}), SQLite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} CPUs")
    try:
        base = raw_sqlite(tmp / "raw.db", 1000)
        print(f"raw SQLite, 1 row per durable transaction (WAL, synchronous=FULL): "
              f"{base:,.0f} tx/s  <- ceiling without group commit")

        objects = await store.open_sqlite(str(tmp / "store.db"))
        try:
            one, one_commits = await creates(objects, 1, writes // 4, "one")
            many, many_commits = await creates(objects, 32, writes, "many")
            print(f"store creates, 1 writer:   {one:,.0f}/s ({writes // 4} writes, "
                  f"{one_commits} commits; {one / base:.2f}x raw)")
            print(f"store creates, 32 writers: {many:,.0f}/s ({writes} writes, "
                  f"{many_commits} commits = {writes / max(many_commits, 1):.1f} writes/fsync; "
                  f"{many / base:.2f}x raw)  goal >= 2,000/s")
            print(f"32 writers vs 1 writer:    {many / one:.1f}x")

            paced = await watch_latency(objects, watchers, 300, 1, "Paced")
            print(f"watch delivery, {watchers} watchers x 300 paced writes: "
                  f"p50 {ms(statistics.median(paced))}, p99 {ms(pct(paced, 0.99))}, "
                  f"max {ms(max(paced))}  goal p99 < 50 ms")
            burst = await watch_latency(objects, watchers, 640, 32, "Burst")
            print(f"watch delivery, {watchers} watchers x 640 writes from 32 writers: "
                  f"p50 {ms(statistics.median(burst))}, p99 {ms(pct(burst, 0.99))}, "
                  f"max {ms(max(burst))}  (includes commit queueing)")
        finally:
            await objects.backend.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writes", type=int, default=4000, help="creates in the 32-writer run")
    ap.add_argument("--watchers", type=int, default=100)
    args = ap.parse_args()
    asyncio.run(main(args.writes, args.watchers))
