"""Crash test: a writer process is SIGKILLed mid-stream; every acknowledged write survives.

Runs against every backend of ``backends.BACKENDS`` (the writer opens it by name).
The writer prints a line only after ``create``/``update`` returned, i.e. after
the commit that holds it. Everything printed before the kill must be in the
store when it is reopened, and revisions must keep increasing from there.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from contextlib import aclosing
from pathlib import Path

import pytest

from .backends import BACKENDS, check_integrity, open_objects
from .conftest import take

REPO = Path(__file__).resolve().parents[2]
WRITER = r"""
import asyncio, sys
from tests.store.backends import open_objects

async def main(backend: str, path: str, tasks: int) -> None:
    objects = await open_objects(backend, path)

    async def writer(t: int) -> None:
        counter = await objects.create({"kind": "Counter", "metadata": {"name": f"c{t:02d}"},
                                        "spec": {"n": 0}})
        for i in range(10**9):
            o = await objects.create({"kind": "W", "metadata": {"name": f"w{t:02d}-{i:07d}"},
                                      "spec": {"i": i}})
            print("create", o["metadata"]["name"], o["metadata"]["resourceVersion"], flush=True)
            if i % 5 == 4:
                counter["spec"]["n"] = i
                counter = await objects.update(counter)
                print("update", f"c{t:02d}", i, counter["metadata"]["resourceVersion"], flush=True)

    await asyncio.gather(*(writer(t) for t in range(tasks)))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def run_and_kill(backend: str, data: Path, tasks: int, acks_before_kill: int
                 ) -> list[list[str]]:
    """Start the writer, SIGKILL it after some acknowledgements; every complete line printed."""
    errlog = data.with_suffix(".stderr")
    with open(errlog, "w") as err:
        p = subprocess.Popen([sys.executable, "-c", WRITER, backend, str(data), str(tasks)],
                             stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO)
    watchdog = threading.Timer(60, p.kill)
    watchdog.start()
    lines: list[list[str]] = []
    try:
        assert p.stdout is not None
        while len(lines) < acks_before_kill:
            line = p.stdout.readline()
            if not line:
                raise AssertionError(f"writer died: {errlog.read_text()}")
            lines.append(line.split())
        p.send_signal(signal.SIGKILL)  # mid-stream: writes are in flight
        rest = p.stdout.read()  # acknowledged before the kill, still in the pipe
    finally:
        p.kill()
        p.wait()
        watchdog.cancel()
    lines += [ln.split() for ln in rest.splitlines(keepends=True) if ln.endswith("\n")]
    assert p.returncode == -signal.SIGKILL
    return lines


async def verify(backend: str, data: Path, acks: list[list[str]], probe: str) -> None:
    objects = await open_objects(backend, data)
    try:
        ws = await objects.list("W")
        present = {o["metadata"]["name"]: int(o["metadata"]["resourceVersion"]) for o in ws.items}
        created = {a[1]: int(a[2]) for a in acks if a[0] == "create"}
        lost = sorted(set(created) - set(present))
        assert not lost, f"{len(lost)} of {len(created)} acknowledged creates lost: {lost[:5]}"
        assert all(present[name] == rev for name, rev in created.items())

        counters = {o["metadata"]["name"]: o for o in (await objects.list("Counter")).items}
        for _, name, n, rev in (a for a in acks if a[0] == "update"):
            assert counters[name]["spec"]["n"] >= int(n)
            assert int(counters[name]["metadata"]["resourceVersion"]) >= int(rev)

        top = max(int(a[-1]) for a in acks)
        revision = await objects.revision()
        assert ws.resource_version == revision >= top
        all_revs = [*present.values(),
                    *(int(c["metadata"]["resourceVersion"]) for c in counters.values())]
        assert len(all_revs) == len(set(all_revs)) and max(all_revs) <= revision

        async with aclosing(objects.watch("W", None, 0)) as stream:  # history survived too
            history = await take(stream, max(present.values()))
        assert sorted(e.object["metadata"]["name"] for e in history) == sorted(present)

        new = await objects.create({"kind": "W", "metadata": {"name": probe}})
        assert int(new["metadata"]["resourceVersion"]) == revision + 1
    finally:
        await objects.backend.close()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("tasks,acks", [(1, 300), (32, 1500)], ids=["1-writer", "32-writers"])
def test_acknowledged_writes_survive_sigkill(tmp_path: Path, backend: str, tasks: int,
                                             acks: int) -> None:
    data = tmp_path / "data"
    data.mkdir()
    lines = run_and_kill(backend, data, tasks, acks)
    assert len(lines) >= acks
    check_integrity(backend, data)
    asyncio.run(verify(backend, data, lines, "after-crash"))
    asyncio.run(verify(backend, data, lines, "after-reopen"))  # and again after a clean close
