"""Keystone's lockout: failed passwords counted in the store (across restarts, under
concurrency); a locked user is refused even with the right password until the duration
passes; the agents' service user is never locked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kumo.api.app import build_app
from kumo.config import Config
from kumo.core import lockout
from kumo.model.lockout import LOGIN_FAILURES
from kumo.server import SERVICE_CREDENTIALS_FILE, open_runtime

from .conftest import Keystone, login, make_project, make_user

ATTEMPTS = 3


@pytest.fixture
def keystone_config() -> dict[str, Any]:
    return {"lockout_failure_attempts": ATTEMPTS, "lockout_duration": 2.0,
            "login_failures_per_source": 0, "login_failures_per_user_source": 0}


async def test_locked_user_is_refused_even_with_the_right_password(keystone: Keystone) -> None:
    p = await make_project(keystone, "lock")
    await make_user(keystone, "dave", "right", {p: ("member",)})
    assert (await login(keystone.client, "dave", "right", p)).status_code == 201
    for _ in range(ATTEMPTS):
        assert (await login(keystone.client, "dave", "wrong", p)).status_code == 401
    r = await login(keystone.client, "dave", "right", p)
    assert r.status_code == 401
    nouser = await login(keystone.client, "nobody", "right", p)
    assert r.json() == nouser.json()  # the lock is not announced: no user enumeration
    await asyncio.sleep(2.1)
    assert (await login(keystone.client, "dave", "right", p)).status_code == 201
    # a success cleared the count: ATTEMPTS - 1 failures do not lock
    for _ in range(ATTEMPTS - 1):
        assert (await login(keystone.client, "dave", "wrong", p)).status_code == 401
    assert (await login(keystone.client, "dave", "right", p)).status_code == 201


async def test_failures_are_counted_in_the_store_and_survive_a_restart(
        keystone: Keystone, tmp_path: Path, keystone_config: dict[str, Any]) -> None:
    uid = await make_user(keystone, "erin", "right")
    for _ in range(ATTEMPTS):
        assert (await login(keystone.client, "erin", "wrong")).status_code == 401
    rec = await keystone.rt.objects.get(LOGIN_FAILURES, "", uid)
    assert rec["spec"]["count"] == ATTEMPTS
    await keystone.rt.objects.backend.close()
    rt = await open_runtime(Config(data_dir=tmp_path / "data", listen="127.0.0.1:1",
                                   **{**keystone_config, "lockout_duration": 300.0}))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(rt)),
                                     base_url="http://kumo") as client:
            assert (await login(client, "erin", "right")).status_code == 401
    finally:
        await rt.objects.backend.close()


async def test_concurrent_failures_are_all_counted(keystone: Keystone) -> None:
    uid = await make_user(keystone, "frank", "right")
    policy = lockout.LockoutPolicy(failure_attempts=1000, duration=60)
    user = await keystone.rt.objects.get("User", "", uid)
    counts = await asyncio.gather(*(lockout.record_failure(keystone.rt.objects, user, policy)
                                    for _ in range(20)))
    assert sorted(counts) == list(range(1, 21))
    assert (await keystone.rt.objects.get(LOGIN_FAILURES, "", uid))["spec"]["count"] == 20


async def test_concurrent_wrong_logins_lock_the_user(keystone: Keystone) -> None:
    await make_user(keystone, "gina", "right")
    rs = await asyncio.gather(*(login(keystone.client, "gina", "wrong") for _ in range(10)))
    assert {r.status_code for r in rs} == {401}
    assert (await login(keystone.client, "gina", "right")).status_code == 401


async def test_the_service_user_is_never_locked(keystone: Keystone) -> None:
    creds = yaml.safe_load((keystone.rt.config.data_dir / SERVICE_CREDENTIALS_FILE).read_text())
    for _ in range(ATTEMPTS + 2):
        assert (await login(keystone.client, creds["username"], "wrong")).status_code == 401
    assert (await login(keystone.client, creds["username"], creds["password"])
            ).status_code == 201


async def test_an_admin_unlocks_by_enabling_and_deleting_forgets(keystone: Keystone) -> None:
    uid = await make_user(keystone, "hank", "right")
    for _ in range(ATTEMPTS):
        await login(keystone.client, "hank", "wrong")
    assert (await login(keystone.client, "hank", "right")).status_code == 401
    r = await keystone.client.patch(f"/v3/users/{uid}", headers=keystone.headers,
                                    json={"user": {"enabled": True}})
    assert r.status_code == 200
    assert (await login(keystone.client, "hank", "right")).status_code == 201
    await login(keystone.client, "hank", "wrong")
    assert await keystone.rt.objects.try_get(LOGIN_FAILURES, "", uid) is not None
    assert (await keystone.client.delete(f"/v3/users/{uid}", headers=keystone.headers)
            ).status_code == 204
    assert await keystone.rt.objects.try_get(LOGIN_FAILURES, "", uid) is None
