"""The reconcile loop: a work queue of keys, workers, backoff, metrics.

Level-triggered, after controller-runtime: a source (a store watch, an HTTP
watch, a timer) only says *which key* to look at; ``reconcile(key)`` reads the
current state and makes the world match it. A key is never processed by two
workers at once and is coalesced while waiting. ``reconcile`` returns a delay
to look again (``Requeue``) or None; an exception is a temporary error retried
with exponential backoff; ``PermanentError`` is logged and not retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from kumo.observe import metrics

log = logging.getLogger("kumo.common.reconciler")


class PermanentError(Exception):
    """Retrying will not help (bad spec); the reconciler records it and stops."""


@dataclass
class Requeue:
    after: float


Reconcile = Callable[[Any], Awaitable[Requeue | None]]


class Controller:
    """Runs ``reconcile`` for queued keys on ``workers`` tasks."""

    def __init__(self, name: str, reconcile: Reconcile, *, workers: int = 1,
                 base_backoff: float = 0.2, max_backoff: float = 30.0) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self._queue: asyncio.Queue[Hashable] = asyncio.Queue()
        self._queued: set[Hashable] = set()
        self._active: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self.reconciles = 0
        self.errors = 0
        self.last_error: str | None = None

    def enqueue(self, key: Hashable, after: float = 0.0) -> None:
        if after > 0:
            loop = asyncio.get_running_loop()
            old = self._timers.pop(key, None)
            if old is not None:
                old.cancel()
            self._timers[key] = loop.call_later(after, self._fire, key)
            return
        if key in self._active:
            self._dirty.add(key)
            return
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)
            metrics.QUEUE_DEPTH.labels(self.name).set(self._queue.qsize())

    def _fire(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)

    async def run(self) -> None:
        await asyncio.gather(*(self._worker() for _ in range(self.workers)))

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            metrics.QUEUE_DEPTH.labels(self.name).set(self._queue.qsize())
            start = time.perf_counter()
            result = "ok"
            try:
                res = await self.reconcile(key)
                self._failures.pop(key, None)
                if res is not None:
                    self.enqueue(key, res.after)
            except asyncio.CancelledError:
                raise
            except PermanentError as exc:
                result = "permanent_error"
                self.errors += 1
                self.last_error = f"{key}: {exc}"
                self._failures.pop(key, None)
                log.warning("%s: %s failed permanently: %s", self.name, key, exc)
            except Exception as exc:
                result = "error"
                self.errors += 1
                self.last_error = f"{key}: {type(exc).__name__}: {exc}"
                n = self._failures.get(key, 0) + 1
                self._failures[key] = n
                delay = min(self.max_backoff, self.base_backoff * 2 ** (n - 1))
                log.warning("%s: %s failed (attempt %d, retry in %.1fs): %s", self.name, key,
                            n, delay, exc, exc_info=n == 1)
                self.enqueue(key, delay)
            finally:
                self._active.discard(key)
                self.reconciles += 1
                metrics.RECONCILES.labels(self.name, result).inc()
                metrics.RECONCILE_LATENCY.labels(self.name).observe(time.perf_counter() - start)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.enqueue(key)

    def debug_state(self) -> dict[str, Any]:
        return {"queue_depth": self._queue.qsize(), "active": len(self._active),
                "retrying": len(self._failures), "delayed": len(self._timers),
                "reconciles": self.reconciles, "errors": self.errors,
                "last_error": self.last_error}
