"""Crash test: every write acknowledged before SIGKILL survives, revisions stay monotonic."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kumo import store

WRITER = r"""
import asyncio, sys
from kumo import store

async def main(path, concurrency):
    objects = await store.open_sqlite(path)
    i = 0
    async def one(n):
        o = await objects.create({"kind": "W", "metadata": {"name": f"w{n:07d}"}, "spec": {}})
        print(o["metadata"]["name"], o["metadata"]["resourceVersion"], flush=True)
    while True:
        await asyncio.gather(*(one(i + k) for k in range(concurrency)))
        i += concurrency

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.parametrize("concurrency", [1, 32])
def test_acknowledged_writes_survive_sigkill(tmp_path: Path, concurrency: int) -> None:
    db = tmp_path / "crash.db"
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(concurrency)],
                         stdout=subprocess.PIPE, text=True)
    acked: dict[str, int] = {}
    assert p.stdout is not None
    try:
        for line in p.stdout:
            name, rv = line.split()
            acked[name] = int(rv)
            if len(acked) >= 400:
                break
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()

    async def check() -> None:
        objects = await store.open_sqlite(str(db))
        try:
            listed = await objects.list("W")
            present = {o["metadata"]["name"]: int(o["metadata"]["resourceVersion"])
                       for o in listed.items}
            missing = set(acked) - set(present)
            assert not missing, f"{len(missing)} acknowledged writes lost"
            for name, rv in acked.items():
                assert present[name] == rv
            assert listed.resource_version >= max(acked.values())
            new = await objects.create({"kind": "W", "metadata": {"name": "after"}})
            assert int(new["metadata"]["resourceVersion"]) > listed.resource_version
        finally:
            await objects.backend.close()

    asyncio.run(check())
