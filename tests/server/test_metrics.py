"""``/metrics`` of a real ``kumo api``: behind an admin token, with bounded label sets.

Before: anyone could read it (route labels named other projects' resources) and every
unknown path became a permanent series (48 MB after 20,000 random paths).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable

import httpx

from tests.apiprocess import ApiProcess
from tests.conftest import free_port


def _series(text: str, name: str = "kumo_api_requests_total{") -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(name)]


async def _hammer(url: str, paths: list[str], clients: int = 8) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        async def worker(mine: list[str]) -> None:
            for p in mine:
                await c.get(p)

        await asyncio.gather(*(worker(paths[i::clients]) for i in range(clients)))


def test_metrics_needs_an_admin_token(api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory()
    assert httpx.get(api.url + "/metrics", timeout=10).status_code == 401
    r = httpx.get(api.url + "/metrics", headers={"X-Auth-Token": api.token()}, timeout=10)
    assert r.status_code == 200 and "kumo_api_requests_total" in r.text


def test_a_separate_listener_serves_metrics_without_a_token(
        api_factory: Callable[..., ApiProcess]) -> None:
    port = free_port()
    api = api_factory(f"metrics_listen=127.0.0.1:{port}")
    httpx.get(api.url + "/healthz", timeout=10)
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200 and "kumo_api_requests_total" in r.text
    assert httpx.get(api.url + "/metrics", timeout=10).status_code == 401


def test_random_paths_leave_the_series_count_flat(
        api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory()
    token = api.token()
    sid = str(uuid.uuid4())
    warm = ["/nope", "/compute/v2.1/nope", f"/compute/v2.1/servers/{sid}",
            "/apis/kumo.io/v1/nothings", "/v3/nope"]
    asyncio.run(_hammer(api.url, warm * 4, clients=2))
    read = {"X-Auth-Token": token}
    before = _series(httpx.get(api.url + "/metrics", headers=read, timeout=10).text)
    tails = ["", "/compute/v2.1/", "/compute/v2.1/servers/", "/image/v2/", "/v3/",
             "/apis/kumo.io/v1/", "/network/v2.0/"]
    paths = [tails[i % len(tails)] + "/" + secrets.token_hex(8) for i in range(20_000)]
    asyncio.run(_hammer(api.url, paths))
    text = httpx.get(api.url + "/metrics", headers=read, timeout=30).text
    after = _series(text)
    assert len(after) <= len(before) + len(tails) * 3, (len(before), len(after))
    assert not any(p.rsplit("/", 1)[1] in text for p in paths[:200])
    assert sid not in text
    assert 'route="/compute/v2.1/servers/{' in text  # a template, never the id
