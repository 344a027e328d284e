"""A request stops when its client goes (``kumo.api.disconnect``); ``max_count`` is bounded.

Before: a ``max_count`` create went on making servers after its client had hung up, and
``max_count`` had no bound where the quota was unlimited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from tests.apiprocess import ApiProcess

COUNT = 400
NOVA = {"OpenStack-API-Version": "compute 2.37"}  # networks "none"


async def _prepare(c: httpx.AsyncClient) -> str:
    """Unlimited instance quota for the admin project and an active image; its id."""
    projects = (await c.get("/v3/projects", params={"name": "admin"})).json()["projects"]
    r = await c.put(f"/compute/v2.1/os-quota-sets/{projects[0]['id']}", json={
        "quota_set": {"instances": -1, "cores": -1, "ram": -1}})
    assert r.status_code == 200, r.text
    r = await c.post("/image/v2/images", json={"name": "blob", "disk_format": "raw",
                                               "container_format": "bare"})
    assert r.status_code == 201, r.text
    image = r.json()["id"]
    r = await c.put(f"/image/v2/images/{image}/file", content=b"\0" * 4096,
                    headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    return image


def _create_body(image: str, count: int) -> dict[str, object]:
    return {"server": {"name": "many", "imageRef": image, "flavorRef": "42",
                       "networks": "none", "min_count": 1, "max_count": count}}


async def _count(c: httpx.AsyncClient) -> int:
    r = await c.get("/compute/v2.1/servers", params={"limit": 1000})
    return len(r.json()["servers"])


async def _create_and_hang_up(api: ApiProcess) -> tuple[int, int]:
    headers = {"X-Auth-Token": api.token(), **NOVA}
    async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=60) as c, \
            httpx.AsyncClient(base_url=api.url, headers=headers, timeout=60) as creator:
        image = await _prepare(c)
        post = asyncio.create_task(creator.post("/compute/v2.1/servers",
                                                json=_create_body(image, COUNT)))
        seen = 0
        deadline = time.monotonic() + 30
        while not seen and not post.done() and time.monotonic() < deadline:
            seen = await _count(c)
        assert not post.done(), "the create finished before the client could hang up"
        post.cancel()  # the client goes: httpx closes the connection
        await asyncio.gather(post, return_exceptions=True)
        await asyncio.sleep(3)
        settled = await _count(c)
        await asyncio.sleep(1)
        assert await _count(c) == settled
        return seen, settled


def test_a_create_stops_when_its_client_goes(api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory(f"max_servers_per_request={COUNT}")
    seen, settled = asyncio.run(_create_and_hang_up(api))
    assert seen > 0
    assert settled == 0, f"{settled} of {COUNT} servers made for a client that had gone"


def test_max_count_is_bounded(api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory("max_servers_per_request=5")

    async def run() -> None:
        async with httpx.AsyncClient(base_url=api.url, timeout=60,
                                     headers={"X-Auth-Token": api.token(), **NOVA}) as c:
            image = await _prepare(c)
            r = await c.post("/compute/v2.1/servers", json=_create_body(image, 6))
            assert r.status_code == 400, r.text
            assert "at most 5" in r.text
            assert await _count(c) == 0
            r = await c.post("/compute/v2.1/servers", json=_create_body(image, 5))
            assert r.status_code == 202, r.text
            assert await _count(c) == 5

    asyncio.run(run())
