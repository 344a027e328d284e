"""In-process Octavia fixtures: the real API app on a temp store (tests/network's harness),
plus ``observe``, which plays the agent's one status write (observedGeneration) so the
state machine can be driven without a host; the data-plane tests run the real agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumo.model import loadbalancer as lbm
from tests.inproc import in_process
from tests.network.conftest import Neutron, Tenant


class Octavia(Neutron):
    async def lb_call(self, method: str, path: str, who: Tenant | None, **kw: Any
                      ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if who is not None:
            headers["X-Auth-Token"] = who.token
        return await self.client.request(method, "/load-balancer/v2" + path, headers=headers,
                                         **kw)

    async def lb_ok(self, method: str, path: str, who: Tenant, status: int = 200,
                    **kw: Any) -> Any:
        r = await self.lb_call(method, path, who, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    async def lb_fail(self, method: str, path: str, who: Tenant, status: int, **kw: Any
                      ) -> str:
        r = await self.lb_call(method, path, who, **kw)
        assert r.status_code == status, r.text
        body = r.json()
        assert set(body) == {"faultcode", "faultstring", "debuginfo"}, body
        assert body["faultcode"] == "Client"
        return str(body["faultstring"])

    async def observe(self, lb_id: str, operating: dict[str, str] | None = None) -> None:
        """What the agent writes once HAProxy serves the LB's current generation."""
        found = await self.objects.list(lbm.LOADBALANCER, None)
        lb = next(x for x in found.items if x["metadata"]["name"] == lb_id)

        def change(obj: dict[str, Any]) -> None:
            obj["status"] = {**(obj.get("status") or {}),
                             "observedGeneration": obj["metadata"]["generation"],
                             "operating": operating or {}}

        await self.objects.mutate(lbm.LOADBALANCER, lb["metadata"]["namespace"], lb_id, change)

    async def vip_subnet(self, who: Tenant, cidr: str = "10.0.0.0/24") -> dict[str, Any]:
        net = await self.network(who)
        return await self.subnet(who, net["id"], cidr)


@pytest.fixture
async def octavia(tmp_path: Path) -> AsyncIterator[Octavia]:
    async with in_process(Octavia, tmp_path / "data") as harness:
        yield harness


@pytest.fixture
async def alice(octavia: Octavia) -> Tenant:
    return await octavia.tenant("alpha")


@pytest.fixture
async def bob(octavia: Octavia) -> Tenant:
    return await octavia.tenant("beta")
