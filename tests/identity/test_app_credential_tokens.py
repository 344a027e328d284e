"""A token from an application credential never widens and dies with its credential."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from .conftest import Keystone, login, make_project, make_user


async def _setup(ks: Keystone, expires_in: float | None = None) -> dict[str, Any]:
    """alice: member of A and B; a credential on A restricted to reader; its token."""
    a, b = await make_project(ks, "proj-a"), await make_project(ks, "proj-b")
    await make_user(ks, "alice", "pw-alice", {a: ("member",), b: ("member",)})
    r = await login(ks.client, "alice", "pw-alice", a)
    assert r.status_code == 201, r.text
    scoped = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    uid = r.json()["token"]["user"]["id"]
    body: dict[str, Any] = {"name": "ci", "roles": [{"name": "reader"}]}
    if expires_in is not None:
        body["expires_at"] = datetime.fromtimestamp(time.time() + expires_in, UTC).isoformat()
    r = await ks.client.post(f"/v3/users/{uid}/application_credentials", headers=scoped,
                             json={"application_credential": body})
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    r = await ks.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": cred["id"], "secret": cred["secret"]}}}})
    assert r.status_code == 201, r.text
    assert {x["name"] for x in r.json()["token"]["roles"]} == {"reader"}
    return {"a": a, "b": b, "uid": uid, "cred": cred, "owner": scoped,
            "token": r.headers["X-Subject-Token"]}


async def _rescope(ks: Keystone, token: str, scope: dict[str, Any] | None) -> Any:
    auth: dict[str, Any] = {"identity": {"methods": ["token"], "token": {"id": token}}}
    if scope is not None:
        auth["scope"] = scope
    return await ks.client.post("/v3/auth/tokens", json={"auth": auth})


async def _alive(ks: Keystone, token: str) -> int:
    return (await ks.client.get("/v3/auth/projects", headers={"X-Auth-Token": token})
            ).status_code


async def test_rescoping_keeps_the_credentials_roles(keystone: Keystone) -> None:
    s = await _setup(keystone)
    for scope in ({"project": {"id": s["a"]}}, None):
        r = await _rescope(keystone, s["token"], scope)
        assert r.status_code == 201, r.text
        tok = r.json()["token"]
        assert tok["project"]["id"] == s["a"]
        assert {x["name"] for x in tok["roles"]} == {"reader"}, tok["roles"]
        assert tok["application_credential"]["id"] == s["cred"]["id"]
        # the new token cannot write either (a reader in project A)
        r = await keystone.client.get("/v3/auth/tokens", headers={
            "X-Auth-Token": r.headers["X-Subject-Token"],
            "X-Subject-Token": r.headers["X-Subject-Token"]})
        assert {x["name"] for x in r.json()["token"]["roles"]} == {"reader"}


async def test_rescoping_to_another_project_or_a_domain_is_refused(keystone: Keystone) -> None:
    s = await _setup(keystone)
    for scope in ({"project": {"id": s["b"]}}, {"project": {"name": "proj-b",
                                                            "domain": {"id": "default"}}},
                  {"domain": {"id": "default"}}):
        r = await _rescope(keystone, s["token"], scope)
        assert r.status_code == 403, (scope, r.text)


async def test_rescoped_token_dies_with_the_credential(keystone: Keystone) -> None:
    s = await _setup(keystone)
    r = await _rescope(keystone, s["token"], {"project": {"id": s["a"]}})
    rescoped = r.headers["X-Subject-Token"]
    assert await _alive(keystone, rescoped) == 200
    r = await keystone.client.delete(
        f"/v3/users/{s['uid']}/application_credentials/{s['cred']['id']}", headers=s["owner"])
    assert r.status_code == 204
    assert await _alive(keystone, s["token"]) == 401
    assert await _alive(keystone, rescoped) == 401
    assert (await _rescope(keystone, rescoped, None)).status_code == 404  # TokenNotFound


async def test_tokens_die_when_the_credential_expires(keystone: Keystone) -> None:
    s = await _setup(keystone, expires_in=1.5)
    r = await _rescope(keystone, s["token"], None)
    assert r.status_code == 201
    rescoped = r.headers["X-Subject-Token"]
    assert await _alive(keystone, rescoped) == 200
    await asyncio.sleep(1.7)
    assert await _alive(keystone, s["token"]) == 401
    assert await _alive(keystone, rescoped) == 401
    r = await keystone.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["application_credential"], "application_credential": {
            "id": s["cred"]["id"], "secret": s["cred"]["secret"]}}}})
    assert r.status_code == 401
