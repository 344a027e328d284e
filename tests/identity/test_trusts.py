"""Trusts: only the trustor creates one, with roles it holds; the trustee's trust-scoped
token carries only the delegated roles and dies with the trust."""

from __future__ import annotations

from typing import Any

from .conftest import Keystone, login, make_project, make_user


async def _trust_setup(ks: Keystone, impersonation: bool) -> dict[str, Any]:
    pid = await make_project(ks, "tp")
    tor = await make_user(ks, "tor", "pw-tor", {pid: ("member",)})
    tee = await make_user(ks, "tee", "pw-tee")
    r = await login(ks.client, "tor", "pw-tor", pid)
    tor_tok = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    body = {"trust": {"trustor_user_id": tor, "trustee_user_id": tee, "project_id": pid,
                      "impersonation": impersonation, "roles": [{"name": "reader"}]}}
    return {"pid": pid, "tor": tor, "tee": tee, "tor_tok": tor_tok, "body": body}


async def test_trust_token_carries_only_delegated_roles(keystone: Keystone) -> None:
    ks = keystone
    s = await _trust_setup(ks, impersonation=True)
    bad = {"trust": {**s["body"]["trust"], "roles": [{"name": "admin"}]}}
    assert (await ks.client.post("/v3/OS-TRUST/trusts", headers=s["tor_tok"], json=bad)
            ).status_code == 403  # the trustor is no admin
    r = await ks.client.post("/v3/OS-TRUST/trusts", headers=s["tor_tok"], json=s["body"])
    assert r.status_code == 201, r.text
    tid = r.json()["trust"]["id"]
    tee = (await login(ks.client, "tee", "pw-tee")).headers["X-Subject-Token"]
    r = await ks.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["token"], "token": {"id": tee}}, "scope": {"OS-TRUST:trust": {"id": tid}}}})
    assert r.status_code == 201, r.text
    tok = r.json()["token"]
    assert tok["user"]["id"] == s["tor"]  # impersonation
    assert [x["name"] for x in tok["roles"]] == ["reader"]
    assert tok["OS-TRUST:trust"]["id"] == tid and tok["project"]["id"] == s["pid"]
    trust_tok = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    roles = (await ks.client.get(f"/v3/OS-TRUST/trusts/{tid}/roles", headers=trust_tok)).json()
    assert [x["name"] for x in roles["roles"]] == ["reader"]
    tee_tok = {"X-Auth-Token": tee}
    assert (await ks.client.delete(f"/v3/OS-TRUST/trusts/{tid}", headers=tee_tok)
            ).status_code == 403
    assert (await ks.client.delete(f"/v3/OS-TRUST/trusts/{tid}", headers=s["tor_tok"])
            ).status_code == 204
    assert (await ks.client.get("/v3/auth/projects", headers=trust_tok)).status_code == 401


async def test_trust_without_impersonation_and_listing(keystone: Keystone) -> None:
    ks = keystone
    s = await _trust_setup(ks, impersonation=False)
    body = {"trust": {**s["body"]["trust"], "expires_at": "bad.123Z"}}
    assert (await ks.client.post("/v3/OS-TRUST/trusts", headers=s["tor_tok"], json=body)
            ).status_code == 400
    r = await ks.client.post("/v3/OS-TRUST/trusts", headers=s["tor_tok"], json=s["body"])
    tid = r.json()["trust"]["id"]
    r = await ks.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {
            "name": "tee", "domain": {"id": "default"}, "password": "pw-tee"}}},
        "scope": {"OS-TRUST:trust": {"id": tid}}}})
    assert r.status_code == 201 and r.json()["token"]["user"]["id"] == s["tee"]
    tee_tok = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    assert (await ks.client.get("/v3/OS-TRUST/trusts", headers=s["tor_tok"])
            ).status_code == 403  # unfiltered: admins only
    mine = (await ks.client.get("/v3/OS-TRUST/trusts", headers=s["tor_tok"], params={
        "trustor_user_id": s["tor"]})).json()["trusts"]
    assert [t["id"] for t in mine] == [tid]
    r = await ks.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["token"], "token": {"id": tee_tok["X-Auth-Token"]}},
        "scope": {"project": {"id": s["pid"]}}}})
    assert r.status_code == 403  # a trust token is not re-scoped


async def test_policies_and_domain_config(keystone: Keystone) -> None:
    ks, h = keystone.client, keystone.headers
    r = await ks.post("/v3/policies", headers=h, json={"policy": {"type": "t", "blob": "b"}})
    assert r.status_code == 201
    pid = r.json()["policy"]["id"]
    r = await ks.patch(f"/v3/policies/{pid}", headers=h, json={"policy": {"type": "u"}})
    assert r.json()["policy"] == {**r.json()["policy"], "type": "u", "blob": "b"}
    assert (await ks.delete(f"/v3/policies/{pid}", headers=h)).status_code == 204
    r = await ks.post("/v3/domains", headers=h, json={"domain": {"name": "ldapish"}})
    did = r.json()["domain"]["id"]
    cfg = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://x/", "password": "s"}}
    r = await ks.put(f"/v3/domains/{did}/config", headers=h, json={"config": cfg})
    assert r.status_code == 201 and "password" not in r.json()["config"]["ldap"]
    assert (await ks.put(f"/v3/domains/{did}/config", headers=h, json={
        "config": {"assignment": {"driver": "x"}}})).status_code == 403
    r = await ks.get(f"/v3/domains/{did}/config/ldap/url", headers=h)
    assert r.json()["config"] == {"url": "ldap://x/"}
    r = await ks.patch(f"/v3/domains/{did}/config/identity/driver", headers=h,
                       json={"config": {"driver": "sql"}})
    assert r.json()["config"]["identity"]["driver"] == "sql"
    assert (await ks.delete(f"/v3/domains/{did}/config/identity", headers=h)
            ).status_code == 204
    assert (await ks.get(f"/v3/domains/{did}/config/identity", headers=h)).status_code == 404
    d = (await ks.get("/v3/domains/config/identity/driver/default", headers=h)).json()
    assert d["config"] == {"driver": "sql"}


async def test_password_history_on_self_service_change(keystone: Keystone) -> None:
    ks = keystone
    pid = await make_project(ks, "ph")
    uid = await make_user(ks, "hana", "pw-one-1", {pid: ("member",)})
    tok = {"X-Auth-Token": (await login(ks.client, "hana", "pw-one-1", pid)
                            ).headers["X-Subject-Token"]}

    async def change(old: str, new: str, headers: dict[str, str]) -> int:
        r = await ks.client.post(f"/v3/users/{uid}/password", headers=headers, json={
            "user": {"original_password": old, "password": new}})
        return r.status_code

    assert await change("pw-one-1", "pw-one-1", tok) == 400  # the current one
    assert await change("pw-one-1", "pw-two-2", tok) == 204
    assert (await ks.client.get("/v3/auth/projects", headers=tok)).status_code == 401
    tok = {"X-Auth-Token": (await login(ks.client, "hana", "pw-two-2", pid)
                            ).headers["X-Subject-Token"]}
    assert await change("pw-two-2", "pw-one-1", tok) == 400  # the one before
    r = await ks.client.patch(f"/v3/users/{uid}", headers=ks.headers,
                              json={"user": {"password": "pw-two-2"}})
    assert r.status_code == 200  # an admin reset is not checked
