"""Designate helpers over the in-process cloud (tests/quotas' ``cloud``); the CLI tests
use the session's ``kumo up`` cloud of tests/conftest.py under the same fixture name."""

from __future__ import annotations

from typing import Any

import httpx

from tests.compute.conftest import Tenant
from tests.quotas.conftest import Cloud

__all__ = ["dns_call", "dns_ok", "zone"]


async def dns_call(c: Cloud, method: str, path: str, who: Tenant | None,
                   headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
    h = dict(headers or {})
    if who is not None:
        h["X-Auth-Token"] = who.token
    return await c.client.request(method, "/dns" + path, headers=h, **kw)


async def dns_ok(c: Cloud, method: str, path: str, who: Tenant, status: int = 202,
                 **kw: Any) -> Any:
    r = await dns_call(c, method, path, who, **kw)
    assert r.status_code == status, r.text
    return r.json() if r.content else None


async def zone(c: Cloud, who: Tenant, name: str, **extra: Any) -> dict[str, Any]:
    return await dns_ok(c, "POST", "/v2/zones", who,
                        json={"name": name, "email": f"hostmaster@{name.rstrip('.')}", **extra})
