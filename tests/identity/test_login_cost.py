"""What a login costs, and whom: an unknown name costs what a wrong password costs (no
user enumeration by timing), and argon2 runs off the event loop (20 logins do not stall
``/healthz``)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumo.api.app import build_app
from kumo.config import Config
from kumo.server import admin_password, open_runtime

from .conftest import password_auth

ROUNDS = 10
NO_LIMITS = {"login_failures_per_source": 0, "login_failures_per_user_source": 0}


@asynccontextmanager
async def _client(tmp_path: Path, **config: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    rt = await open_runtime(Config(data_dir=tmp_path / "data", listen="127.0.0.1:1", **config))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(rt)),
                                     base_url="http://kumo") as client:
            yield client, admin_password(rt.config)
    finally:
        await rt.objects.backend.close()


async def _medians(client: httpx.AsyncClient) -> tuple[float, float]:
    """Median ms of a wrong password for ``admin`` and for unknown names, interleaved."""
    known: list[float] = []
    unknown: list[float] = []
    for i in range(ROUNDS + 1):
        for name, out in (("admin", known), (f"nobody-{i}", unknown)):
            t = time.perf_counter()
            r = await client.post("/v3/auth/tokens", json=password_auth(name, "wrong"))
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 401, r.text
    return statistics.median(known[1:]), statistics.median(unknown[1:])


@pytest.mark.parametrize("config", [
    pytest.param({"lockout_failure_attempts": 0, "login_failure_delay": 0.0, **NO_LIMITS},
                 id="argon2-only"),
    pytest.param({"lockout_failure_attempts": 3, **NO_LIMITS}, id="defaults-with-lockout"),
])
async def test_unknown_user_costs_what_a_wrong_password_costs(
        tmp_path: Path, config: dict[str, Any]) -> None:
    async with _client(tmp_path, **config) as (client, _):
        known, unknown = await _medians(client)
        print(f"known-wrong {known:.1f} ms, unknown {unknown:.1f} ms")
        assert 0.5 < unknown / known < 2.0, (known, unknown)
        if config.get("login_failure_delay", 0.2):
            assert abs(unknown - known) < 0.1 * known, (known, unknown)


async def _probe(client: httpx.AsyncClient, stop: asyncio.Event) -> float:
    """Worst lateness (s) of a /healthz probe due every 10 ms: loop stalls included."""
    worst = 0.0
    while not stop.is_set():
        due = time.perf_counter() + 0.01
        await asyncio.sleep(0.01)
        r = await client.get("/healthz")
        assert r.status_code == 200
        worst = max(worst, time.perf_counter() - due)
    return worst


async def test_twenty_logins_do_not_stall_healthz(tmp_path: Path) -> None:
    async with _client(tmp_path, **NO_LIMITS) as (client, pw):
        async def one() -> int:
            r = await client.post("/v3/auth/tokens", json=password_auth("admin", pw))
            return r.status_code

        stop = asyncio.Event()
        prober = asyncio.create_task(_probe(client, stop))
        started = time.perf_counter()
        codes = await asyncio.gather(*(one() for _ in range(20)))
        total = time.perf_counter() - started
        stop.set()
        worst = await prober
        print(f"/healthz at worst {worst * 1000:.1f} ms late while 20 logins took "
              f"{total * 1000:.0f} ms")
        assert codes == [201] * 20
        assert worst < 0.25 and worst < total / 3, (worst, total)
