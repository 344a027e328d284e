"""The native API's list + watch as an informer ``Source`` (an agent's view of one kind)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .native import ApiClient

Obj = dict[str, Any]


class ApiSource:
    """One kind, optionally narrowed by a label selector, listed and watched over HTTP."""

    def __init__(self, api: ApiClient, plural: str, *, label_selector: str | None = None) -> None:
        self.api = api
        self.plural = plural
        self.label_selector = label_selector
        self.name = plural if not label_selector else f"{plural}?{label_selector}"

    async def list(self) -> tuple[list[Obj], int]:
        return await self.api.list(self.plural, label_selector=self.label_selector)

    async def watch(self, revision: int) -> AsyncIterator[tuple[str, Obj | None, int]]:
        async for typ, obj in self.api.watch(self.plural, revision,
                                             label_selector=self.label_selector):
            rv = int((obj.get("metadata") or {}).get("resourceVersion") or revision)
            yield typ, (None if typ == "BOOKMARK" else obj), rv
