"""Disabling a user, project or domain revokes its tokens for good: re-enabling it does
not bring back a token issued before."""

from __future__ import annotations

from .conftest import Keystone, login, make_project, make_user


async def _status(ks: Keystone, token: str) -> int:
    return (await ks.client.get("/v3/auth/projects", headers={"X-Auth-Token": token})
            ).status_code


async def _patch(ks: Keystone, path: str, key: str, enabled: bool) -> None:
    r = await ks.client.patch(path, headers=ks.headers, json={key: {"enabled": enabled}})
    assert r.status_code == 200, r.text


async def test_user_token_stays_revoked_after_reenable(keystone: Keystone) -> None:
    p = await make_project(keystone, "dis")
    uid = await make_user(keystone, "bob", "pw-bob", {p: ("member",)})
    old = (await login(keystone.client, "bob", "pw-bob", p)).headers["X-Subject-Token"]
    assert await _status(keystone, old) == 200
    await _patch(keystone, f"/v3/users/{uid}", "user", False)
    assert await _status(keystone, old) == 401
    assert (await login(keystone.client, "bob", "pw-bob", p)).status_code == 401
    await _patch(keystone, f"/v3/users/{uid}", "user", True)
    assert await _status(keystone, old) == 401
    r = await keystone.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["token"], "token": {"id": old}}}})
    assert r.status_code == 404  # Keystone's TokenNotFound
    new = await login(keystone.client, "bob", "pw-bob", p)
    assert new.status_code == 201
    assert await _status(keystone, new.headers["X-Subject-Token"]) == 200


async def test_project_and_domain_tokens_stay_revoked_after_reenable(keystone: Keystone) -> None:
    p = await make_project(keystone, "dis-p")
    await make_user(keystone, "carol", "pw-carol", {p: ("member",)})
    old = (await login(keystone.client, "carol", "pw-carol", p)).headers["X-Subject-Token"]
    await _patch(keystone, f"/v3/projects/{p}", "project", False)
    await _patch(keystone, f"/v3/projects/{p}", "project", True)
    assert await _status(keystone, old) == 401
    new = (await login(keystone.client, "carol", "pw-carol", p)).headers["X-Subject-Token"]
    assert await _status(keystone, new) == 200

    r = await keystone.client.post("/v3/domains", headers=keystone.headers,
                                   json={"domain": {"name": "d2"}})
    did = r.json()["domain"]["id"]
    admin_user = (await keystone.client.get("/v3/auth/tokens", headers={
        **keystone.headers, "X-Subject-Token": keystone.headers["X-Auth-Token"]})
                  ).json()["token"]["user"]["id"]
    roles = {x["name"]: x["id"] for x in (await keystone.client.get(
        "/v3/roles", headers=keystone.headers)).json()["roles"]}
    await keystone.client.put(f"/v3/domains/{did}/users/{admin_user}/roles/{roles['admin']}",
                              headers=keystone.headers)
    r = await keystone.client.post("/v3/auth/tokens", headers=keystone.headers, json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": keystone.headers["X-Auth-Token"]}},
        "scope": {"domain": {"id": did}}}})
    assert r.status_code == 201, r.text
    dom_token = r.headers["X-Subject-Token"]
    await _patch(keystone, f"/v3/domains/{did}", "domain", False)
    await _patch(keystone, f"/v3/domains/{did}", "domain", True)
    assert await _status(keystone, dom_token) == 401
