"""Grants reach tokens the way Keystone resolves them: system scope, groups, OS-INHERIT,
implied roles; and ``?effective`` role assignments say the same as the token."""

from __future__ import annotations

from typing import Any

from .conftest import Keystone, login, make_project, make_user


async def _roles(ks: Keystone) -> dict[str, str]:
    r = await ks.client.get("/v3/roles", headers=ks.headers)
    return {x["name"]: x["id"] for x in r.json()["roles"]}


async def _token(ks: Keystone, name: str, password: str, scope: dict[str, Any]) -> Any:
    r = await ks.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {
            "name": name, "domain": {"id": "default"}, "password": password}}},
        "scope": scope}})
    return r


async def test_system_grant_gives_a_system_scoped_token(keystone: Keystone) -> None:
    ks = keystone
    uid = await make_user(ks, "sysadm", "pw-sys")
    roles = await _roles(ks)
    path = f"/v3/system/users/{uid}/roles/{roles['reader']}"
    assert (await _token(ks, "sysadm", "pw-sys", {"system": {"all": True}})).status_code == 401
    assert (await ks.client.head(path, headers=ks.headers)).status_code == 404
    assert (await ks.client.put(path, headers=ks.headers)).status_code == 204
    assert (await ks.client.head(path, headers=ks.headers)).status_code == 204
    listed = (await ks.client.get(f"/v3/system/users/{uid}/roles", headers=ks.headers)).json()
    assert [x["id"] for x in listed["roles"]] == [roles["reader"]]
    r = await _token(ks, "sysadm", "pw-sys", {"system": {"all": True}})
    assert r.status_code == 201, r.text
    tok = r.json()["token"]
    assert tok["system"] == {"all": True} and "project" not in tok
    assert [x["name"] for x in tok["roles"]] == ["reader"]
    auth = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    sys_list = (await ks.client.get("/v3/auth/system", headers=auth)).json()["system"]
    assert sys_list == [{"all": True}]
    ra = (await ks.client.get("/v3/role_assignments", headers=ks.headers,
                              params={"scope.system": "all", "user.id": uid})).json()
    assert [a["scope"] for a in ra["role_assignments"]] == [{"system": {"all": True}}]
    assert (await ks.client.delete(path, headers=ks.headers)).status_code == 204
    assert (await ks.client.get("/v3/auth/tokens", headers={
        **ks.headers, "X-Subject-Token": auth["X-Auth-Token"]})).status_code == 404


async def test_group_roles_reach_members_until_they_leave(keystone: Keystone) -> None:
    ks = keystone
    pid = await make_project(ks, "gp")
    uid = await make_user(ks, "gina", "pw-gina")
    roles = await _roles(ks)
    r = await ks.client.post("/v3/groups", headers=ks.headers, json={"group": {"name": "ops"}})
    gid = r.json()["group"]["id"]
    await ks.client.put(f"/v3/projects/{pid}/groups/{gid}/roles/{roles['member']}",
                        headers=ks.headers)
    assert (await login(ks.client, "gina", "pw-gina", pid)).status_code == 401
    assert (await ks.client.put(f"/v3/groups/{gid}/users/{uid}", headers=ks.headers)
            ).status_code == 204
    r = await login(ks.client, "gina", "pw-gina", pid)
    assert r.status_code == 201, r.text
    assert {x["name"] for x in r.json()["token"]["roles"]} == {"member", "reader"}
    me = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    assert [p["id"] for p in (await ks.client.get("/v3/auth/projects", headers=me)
                              ).json()["projects"]] == [pid]
    users = (await ks.client.get(f"/v3/groups/{gid}/users", headers=ks.headers)).json()
    assert [u["id"] for u in users["users"]] == [uid]
    groups = (await ks.client.get(f"/v3/users/{uid}/groups", headers=me)).json()
    assert [g["id"] for g in groups["groups"]] == [gid]
    assert (await ks.client.delete(f"/v3/groups/{gid}/users/{uid}", headers=ks.headers)
            ).status_code == 204
    assert (await login(ks.client, "gina", "pw-gina", pid)).status_code == 401
    assert (await ks.client.head(f"/v3/groups/{gid}/users/{uid}", headers=ks.headers)
            ).status_code == 404


async def test_inherited_domain_grant_applies_to_projects_not_domain(keystone: Keystone
                                                                      ) -> None:
    ks = keystone
    pid = await make_project(ks, "child")
    uid = await make_user(ks, "ivan", "pw-ivan")
    roles = await _roles(ks)
    path = f"/v3/OS-INHERIT/domains/default/users/{uid}/roles/{roles['member']}" \
           "/inherited_to_projects"
    assert (await ks.client.put(path, headers=ks.headers)).status_code == 204
    assert (await ks.client.head(path, headers=ks.headers)).status_code == 204
    assert (await login(ks.client, "ivan", "pw-ivan", pid)).status_code == 201
    r = await _token(ks, "ivan", "pw-ivan", {"domain": {"id": "default"}})
    assert r.status_code == 401  # inherited: the domain's projects, not the domain
    eff = (await ks.client.get("/v3/role_assignments", headers=ks.headers, params={
        "effective": "", "user.id": uid, "scope.project.id": pid})).json()["role_assignments"]
    assert {a["role"]["id"] for a in eff} == {roles["member"], roles["reader"]}
    plain = (await ks.client.get("/v3/role_assignments", headers=ks.headers, params={
        "user.id": uid})).json()["role_assignments"]
    assert plain[0]["scope"]["OS-INHERIT:inherited_to"] == "projects"
    assert (await ks.client.delete(path, headers=ks.headers)).status_code == 204
    assert (await login(ks.client, "ivan", "pw-ivan", pid)).status_code == 401


async def test_implied_role_rules_reach_tokens(keystone: Keystone) -> None:
    ks = keystone
    pid = await make_project(ks, "imp")
    r = await ks.client.post("/v3/roles", headers=ks.headers, json={"role": {"name": "ops"}})
    ops = r.json()["role"]["id"]
    r = await ks.client.post("/v3/roles", headers=ks.headers, json={"role": {"name": "obs"}})
    obs = r.json()["role"]["id"]
    uid = await make_user(ks, "olga", "pw-olga")
    await ks.client.put(f"/v3/projects/{pid}/users/{uid}/roles/{ops}", headers=ks.headers)
    r = await ks.client.put(f"/v3/roles/{ops}/implies/{obs}", headers=ks.headers)
    assert r.status_code == 201, r.text
    assert r.json()["role_inference"]["implies"]["id"] == obs
    r = await login(ks.client, "olga", "pw-olga", pid)
    assert {x["name"] for x in r.json()["token"]["roles"]} == {"ops", "obs"}
    infs = (await ks.client.get("/v3/role_inferences", headers=ks.headers)).json()
    assert any(i["prior_role"]["id"] == ops for i in infs["role_inferences"])
    assert (await ks.client.delete(f"/v3/roles/{ops}/implies/{obs}", headers=ks.headers)
            ).status_code == 204
    r = await login(ks.client, "olga", "pw-olga", pid)
    assert {x["name"] for x in r.json()["token"]["roles"]} == {"ops"}
    roles = await _roles(ks)  # the built-in chain stays
    assert (await ks.client.delete(f"/v3/roles/{roles['admin']}/implies/{roles['member']}",
                                   headers=ks.headers)).status_code == 403


async def test_rescoped_token_keeps_its_methods(keystone: Keystone) -> None:
    ks = keystone
    pid = await make_project(ks, "rs")
    await make_user(ks, "rita", "pw-rita", {pid: ("member",)})
    r = await login(ks.client, "rita", "pw-rita")
    r = await ks.client.post("/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["token"], "token": {"id": r.headers["X-Subject-Token"]}},
        "scope": {"project": {"id": pid}}}})
    assert r.status_code == 201, r.text
    assert set(r.json()["token"]["methods"]) == {"password", "token"}
