"""Failed password logins are rate limited per source address and per (source, user)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kumo.api.app import build_app
from kumo.core.lockout import FailureWindow

from .conftest import Keystone, login, make_user


@pytest.fixture
def keystone_config() -> dict[str, Any]:
    return {"lockout_failure_attempts": 0, "login_failures_per_source": 4,
            "login_failures_per_user_source": 2, "login_failure_window": 60.0}


def _client(ks: Keystone, source: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(
        app=build_app(ks.rt), client=(source, 4242)), base_url="http://kumo")


async def test_a_guessing_source_is_slowed_down_others_are_not(keystone: Keystone) -> None:
    await make_user(keystone, "hal", "right")
    await make_user(keystone, "ivy", "right")
    async with _client(keystone, "10.9.9.9") as guesser, _client(keystone, "10.8.8.8") as other:
        for _ in range(2):
            assert (await login(guesser, "hal", "wrong")).status_code == 401
        r = await login(guesser, "hal", "right")  # this user from this source: limited
        assert r.status_code == 429, r.text
        assert 0 < int(r.headers["Retry-After"]) <= 60
        assert r.json()["error"]["title"] == "Too Many Requests"
        for name in ("nobody-1", "nobody-2"):  # spraying other names counts per source
            assert (await login(guesser, name, "wrong")).status_code == 401
        assert (await login(guesser, "ivy", "right")).status_code == 429
        assert (await login(other, "hal", "right")).status_code == 201
        assert (await login(other, "ivy", "right")).status_code == 201


async def test_the_failure_window_slides() -> None:
    w = FailureWindow(per_source=2, per_user_source=1, window=10.0)
    assert w.allowed("s", "u", now=0.0) == 0
    w.failed("s", "u", now=0.0)
    assert w.allowed("s", "u", now=1.0) == pytest.approx(9.0)
    assert w.allowed("s", "v", now=1.0) == 0
    w.failed("s", "v", now=2.0)
    assert w.allowed("s", "w", now=3.0) == pytest.approx(7.0)
    assert w.allowed("s", "w", now=10.5) == 0  # the first failure left the window
