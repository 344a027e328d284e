"""What every handler of one API process shares: config, store, tokens, catalog.

Handlers reach it through ``runtime(request)``; it is put in the ASGI scope by
the top-level app, so mounted sub-applications see the same object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request

from kumo import store
from kumo.config import Config


class Tokens(Protocol):
    """What handlers need of the token service (``auth.TokenManager`` is the one).

    Declared here so the runtime, below ``auth`` in the API's layers, does not import it;
    ``validate`` returns an ``auth.AuthContext``.
    """

    ttl: int
    generation: int

    def issue(self, user_id: str, *, methods: list[str], project_id: str | None = None,
              domain_id: str | None = None, expires_at: float | None = None,
              app_cred_id: str | None = None, audit_id: str | None = None,
              system: str | None = None, trust_id: str | None = None) -> str: ...

    def invalidate(self) -> None: ...

    async def validate(self, token: str) -> Any: ...

    async def roles_for(self, user_id: str, scope_type: str,
                        scope_id: str) -> list[tuple[str, str]]: ...

    async def revoke(self, token: str) -> None: ...


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
    tokens: Tokens
    catalog: list[CatalogService] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    debug_providers: dict[str, Any] = field(default_factory=dict)
    caches: dict[str, Any] = field(default_factory=dict)  # watch-fed read caches by name
    doctor: Any = None  # kumo.doctor.Doctor, set by the server's wiring (GET /diagnose/v1)

    def endpoint_url(self, svc: CatalogService) -> str:
        return self.config.base_url + svc.path


def runtime(request: Request) -> Runtime:
    return request.scope["kumo"]
