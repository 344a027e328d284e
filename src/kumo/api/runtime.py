"""What every handler of one API process shares: config, store, tokens, catalog.

Handlers reach it through ``runtime(request)``; it is put in the ASGI scope by
the top-level app, so mounted sub-applications see the same object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from kumo import store
from kumo.config import Config

if TYPE_CHECKING:
    from .auth import TokenManager


@dataclass(frozen=True)
class CatalogService:
    """One entry of the Keystone service catalog; ``path`` is appended to the base URL."""

    id: str
    type: str
    name: str
    path: str
    description: str = ""


@dataclass
class Runtime:
    config: Config
    objects: store.ObjectStore
    tokens: TokenManager
    catalog: list[CatalogService] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    debug_providers: dict[str, Any] = field(default_factory=dict)
    caches: dict[str, Any] = field(default_factory=dict)  # watch-fed read caches by name

    def endpoint_url(self, svc: CatalogService) -> str:
        return self.config.base_url + svc.path


def runtime(request: Request) -> Runtime:
    return request.scope["kumo"]
