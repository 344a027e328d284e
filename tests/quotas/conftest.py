"""One in-process cloud (the real API app on a temp store) for quota and race tests:
the Nova fixtures, plus Neutron calls on the same client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumo.model import identity as m
from tests.compute.conftest import Nova, Tenant
from tests.inproc import in_process


class Cloud(Nova):
    async def net(self, method: str, path: str, who: Tenant | None, **kw: Any
                  ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if who is not None:
            headers["X-Auth-Token"] = who.token
        return await self.client.request(method, "/network" + path, headers=headers, **kw)

    async def net_ok(self, method: str, path: str, who: Tenant, status: int = 200,
                     **kw: Any) -> Any:
        r = await self.net(method, path, who, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    async def image_id(self) -> str:
        admin = await self.objects.list(m.PROJECT, "", label_selector="name=admin")
        return await self.image(admin.items[0]["metadata"]["name"])


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async with in_process(Cloud, tmp_path / "data", timeout=60) as harness:
        yield harness
