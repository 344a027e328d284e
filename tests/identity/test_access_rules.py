"""Access rules: a credential's token reaches only what a rule matches, on every face;
rules are shared per user and outlive their credentials until deleted."""

from __future__ import annotations

from kumo.core.identity import access_allowed

from .conftest import Keystone, login, make_project, make_user


def test_rule_matching() -> None:
    rules = [{"service": "compute", "method": "GET", "path": "/v2.1/servers/*/ips"},
             {"service": "image", "method": "GET", "path": "/v2/**"}]
    assert access_allowed(rules, "compute", "/v2.1/servers/abc/ips", "GET")
    assert access_allowed(rules, "compute", "/v2.1/servers/abc/ips", "HEAD")
    assert not access_allowed(rules, "compute", "/v2.1/servers/abc/ips", "POST")
    assert not access_allowed(rules, "compute", "/v2.1/servers/a/b/ips", "GET")
    assert not access_allowed(rules, "network", "/v2.1/servers/abc/ips", "GET")
    assert access_allowed(rules, "image", "/v2/images/x/file", "GET")
    assert access_allowed([], "anything", "/", "DELETE")


async def test_credential_with_rules_is_confined(keystone: Keystone) -> None:
    ks = keystone
    pid = await make_project(ks, "ar")
    uid = await make_user(ks, "aria", "pw-aria", {pid: ("member",)})
    tok = {"X-Auth-Token": (await login(ks.client, "aria", "pw-aria", pid)
                            ).headers["X-Subject-Token"]}
    rule = {"service": "identity", "method": "GET", "path": "/v3/auth/projects"}
    r = await ks.client.post(f"/v3/users/{uid}/application_credentials", headers=tok, json={
        "application_credential": {"name": "ro", "access_rules": [rule]}})
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    rid = cred["access_rules"][0].pop("id")
    assert cred["access_rules"][0] == rule
    r = await ks.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": cred["id"], "secret": cred["secret"]}}}})
    ac = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    assert (await ks.client.get("/v3/auth/projects", headers=ac)).status_code == 200
    assert (await ks.client.get("/v3/auth/domains", headers=ac)).status_code == 401
    assert (await ks.client.get("/compute/v2.1/servers", headers=ac)).status_code == 401
    assert (await ks.client.get("/v3/auth/domains", headers=tok)).status_code == 200
    listed = (await ks.client.get(f"/v3/users/{uid}/access_rules", headers=tok)).json()
    assert [x["id"] for x in listed["access_rules"]] == [rid]
    path = f"/v3/users/{uid}/access_rules/{rid}"
    assert (await ks.client.delete(path, headers=tok)).status_code == 403  # in use
    assert (await ks.client.delete(f"/v3/users/{uid}/application_credentials/{cred['id']}",
                                   headers=tok)).status_code == 204
    assert (await ks.client.get(path, headers=tok)).status_code == 200  # outlives it
    assert (await ks.client.delete(path, headers=tok)).status_code == 204
