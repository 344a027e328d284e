"""List → watch from the list's revision → re-list on Gone, forever.

The pattern every cache, controller and agent uses (kopf's continuous_watch,
client-go's reflector). ``on_sync`` receives the full list after every (re)list,
``on_event`` every change after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .errors import Gone
from .objects import Obj, ObjectStore, WatchEvent

log = logging.getLogger("kumo.store.watch")


async def watch_forever(
    objects: ObjectStore, kind: str, namespace: str | None,
    on_event: Callable[[WatchEvent], Awaitable[None]],
    on_sync: Callable[[list[Obj]], Awaitable[None]] | None = None,
    retry_delay: float = 1.0,
) -> None:
    while True:
        try:
            listed = await objects.list(kind, namespace)
            if on_sync is not None:
                await on_sync(listed.items)
            async for ev in objects.watch(kind, namespace, listed.resource_version):
                if ev.type != "BOOKMARK":
                    await on_event(ev)
            return
        except Gone:
            log.info("watch of %s expired; re-listing", kind)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watch of %s failed; retrying", kind)
            await asyncio.sleep(retry_delay)
