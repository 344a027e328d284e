"""Claims on one counter, coalesced: the claims that wait in this process while a
write of their project's ``QuotaUsage`` is in flight all go into the next write.

Twenty creates racing on one counter by plain CAS lose about four races each (every
lost race a read, a write and a commit wait); here one write judges every waiting
claim in arrival order on the fresh count, so a burst costs one commit, not twenty.
Correctness across processes is still the store's compare-and-swap: a conflict
re-reads the counter and re-judges the whole batch. A waiter cancelled before its
batch was judged is skipped; one cancelled after is given back at once.

    submit(objects, project, service, judge, write) -> granted
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kumo import store

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Deltas = dict[str, int]
Judge = Callable[[Deltas], tuple[dict[str, Deltas], Deltas]]  # fresh used -> (granted, add)
Write = Callable[[Callable[[Obj], Any]], Awaitable[Obj]]  # mutate the counter with a change
_tasks: set[asyncio.Task[None]] = set()


@dataclass
class _Ask:
    judge: Judge
    fut: asyncio.Future[dict[str, Deltas]]
    add: Deltas | None = None  # what the last judging counted for this ask


@dataclass
class _Queue:
    """The claims waiting for one counter, and the task writing them. It holds the store
    and the loop it serves, so neither's id can be reused by another while it lives."""

    objects: store.ObjectStore
    loop: asyncio.AbstractEventLoop
    asks: list[_Ask]
    task: asyncio.Task[None] | None = None


_queues: dict[tuple[int, str, str], _Queue] = {}


def _sum(total: Deltas, d: Deltas, sign: int = 1) -> Deltas:
    for k, n in d.items():
        total[k] = total.get(k, 0) + sign * int(n)
    return total


def used_of(obj: Obj | None) -> Deltas:
    return {k: int(v) for k, v in (((obj or {}).get("spec") or {}).get("used") or {}).items()}


async def submit(objects: store.ObjectStore, project: str, service: str, judge: Judge,
                 write: Write) -> dict[str, Deltas]:
    """Judge (and count) one claim in the next write of the counter; what it granted.
    ``judge`` may raise (a refusal): that claim fails, the others of its batch go on."""
    key = (id(objects), project, service)
    loop = asyncio.get_running_loop()
    ask = _Ask(judge, loop.create_future())
    q = _queues.get(key)
    if q is not None and q.objects is objects and q.loop is loop and q.task is not None \
            and not q.task.done():
        q.asks.append(ask)
    else:  # none, or one left by a loop that is gone (a test's): start afresh
        q = _queues[key] = _Queue(objects, loop, [ask])
        q.task = asyncio.create_task(_drain(key, q, write))
        _tasks.add(q.task)
        q.task.add_done_callback(_tasks.discard)
    return await ask.fut


async def _drain(key: tuple[int, str, str], q: _Queue, write: Write) -> None:
    """Write batches until no claim waits for this counter."""
    try:
        while q.asks:
            asks, q.asks = q.asks, []
            await _flush(asks, write)
    finally:  # never leave a waiter without a drainer (this task cancelled at shutdown)
        if _queues.get(key) is q:
            del _queues[key]
        for ask in q.asks:
            if not ask.fut.done():
                ask.fut.set_exception(store.StoreError("quota claim abandoned"))


async def _flush(asks: list[_Ask], write: Write) -> None:
    outcomes: list[dict[str, Deltas] | BaseException | None] = []

    def change(obj: Obj) -> Any:
        used, outcomes[:] = used_of(obj), []
        for ask in asks:
            ask.add = None
            if ask.fut.done():  # its waiter went away before this judging
                outcomes.append(None)
                continue
            try:
                granted, ask.add = ask.judge(dict(used))
            except Exception as exc:  # a refusal fails this claim only
                outcomes.append(exc)
                continue
            _sum(used, ask.add)
            outcomes.append(granted)
        if used == used_of(obj):  # nothing counted, or shares that cancel out
            return store.UNCHANGED
        obj.setdefault("spec", {})["used"] = used
        return None

    try:
        await write(change)
    except Exception as exc:
        for ask in asks:
            if not ask.fut.done():
                ask.fut.set_exception(exc)
        return
    undo: Deltas = {}
    for ask, out in zip(asks, outcomes, strict=True):
        if ask.fut.done():  # cancelled while its batch was written: give its share back
            if isinstance(out, dict) and out and ask.add:
                _sum(undo, ask.add)
        elif isinstance(out, BaseException):
            ask.fut.set_exception(out)
        else:
            ask.fut.set_result(out or {})
    if any(undo.values()):
        try:
            await write(lambda obj: obj["spec"].update(used=_sum(used_of(obj), undo, -1)))
        except Exception:  # the reconciler lowers a counter left too high
            log.warning("quota share of a cancelled claim not given back: %s", undo)
