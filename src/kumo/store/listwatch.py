"""The store as an informer ``Source``: list one kind, watch it from a revision."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .objects import ObjectStore
from .selectors import parse_selector

Obj = dict[str, Any]


class StoreSource:
    """One kind (optionally one namespace, one label selector) of an ObjectStore."""

    def __init__(self, objects: ObjectStore, kind: str, namespace: str | None = None, *,
                 label_selector: str | None = None) -> None:
        self.objects = objects
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self._match = parse_selector(label_selector)
        self.name = kind if namespace is None else f"{kind}/{namespace}"

    async def list(self) -> tuple[list[Obj], int]:
        listed = await self.objects.list(self.kind, self.namespace,
                                         label_selector=self.label_selector)
        return listed.items, listed.resource_version

    async def watch(self, revision: int) -> AsyncIterator[tuple[str, Obj | None, int]]:
        stream = self.objects.watch(self.kind, self.namespace, revision)
        try:
            async for ev in stream:
                obj = ev.object
                if obj is not None and self.label_selector and not self._match(
                        obj.get("metadata", {}).get("labels") or {}):
                    # left the selection: tell the informer it is gone from its view
                    yield "DELETED", obj, ev.revision
                    continue
                yield ev.type, obj, ev.revision
        finally:
            await stream.aclose()
