"""Keystone through the real `openstack` CLI and openstacksdk against a live `kumo up`."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import openstack
import pytest
import yaml

pytestmark = pytest.mark.e2e


def user_cloud(cloud, tmp_path: Path, name: str, auth: dict, auth_type: str | None = None
               ) -> Path:
    doc = yaml.safe_load(cloud.clouds_yaml.read_text())
    entry = {"auth": {"auth_url": cloud.base_url + "/v3", **auth}, "region_name": "RegionOne",
             "identity_api_version": 3}
    if auth_type:
        entry["auth_type"] = auth_type
    doc["clouds"][name] = entry
    path = tmp_path / f"clouds-{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_identity_flow_cli(cloud, tmp_path: Path) -> None:
    os_ = cloud.openstack
    tok = os_("token", "issue")
    assert tok["id"] and tok["project_id"] and tok["expires"]
    tag = secrets.token_hex(3)
    proj = os_("project", "create", "--description", "e2e", f"proj-{tag}")
    assert proj["name"] == f"proj-{tag}"
    assert f"proj-{tag}" in {p["Name"] for p in os_("project", "list")}
    assert os_("project", "show", proj["id"])["description"] == "e2e"
    user = os_("user", "create", "--password", "pw-" + tag, "--project", proj["id"],
               f"user-{tag}")
    os_("role", "add", "--project", proj["id"], "--user", user["id"], "member", json_out=False)
    rows = os_("role", "assignment", "list", "--names", "--user", user["id"])
    assert rows and rows[0]["Role"] == "member" and rows[0]["Project"] == f"proj-{tag}@Default"
    cat = {c["Type"] for c in os_("catalog", "list")}
    assert {"identity", "compute", "image"} <= cat

    # the new user authenticates, sees its project, cannot administer
    uc = user_cloud(cloud, tmp_path, "u", {
        "username": f"user-{tag}", "password": "pw-" + tag, "project_name": f"proj-{tag}",
        "user_domain_id": "default", "project_domain_id": "default"})
    mine = cloud.openstack("token", "issue", cloud="u", clouds_yaml=uc)
    assert mine["project_id"] == proj["id"]
    own = cloud.openstack("project", "list", cloud="u", clouds_yaml=uc)
    assert [p["ID"] for p in own] == [proj["id"]]  # the CLI falls back to the user's projects
    bad = cloud.openstack("user", "list", cloud="u", clouds_yaml=uc, check=False,
                          json_out=False)
    assert bad.returncode != 0 and "403" in bad.stderr

    # application credential, then authenticate with it
    ac = cloud.openstack("application", "credential", "create", f"ac-{tag}", cloud="u",
                         clouds_yaml=uc)
    acc = user_cloud(cloud, tmp_path, "ac", {"application_credential_id": ac["ID"],
                                             "application_credential_secret": ac["Secret"]},
                     auth_type="v3applicationcredential")
    t2 = cloud.openstack("token", "issue", cloud="ac", clouds_yaml=acc)
    assert t2["project_id"] == proj["id"] and t2["user_id"] == user["id"]
    cloud.openstack("application", "credential", "delete", ac["ID"], cloud="u", clouds_yaml=uc,
                    json_out=False)
    gone = cloud.openstack("token", "issue", cloud="ac", clouds_yaml=acc, check=False,
                           json_out=False)
    assert gone.returncode != 0

    # removing the role takes effect at once
    os_("role", "remove", "--project", proj["id"], "--user", user["id"], "member",
        json_out=False)
    denied = cloud.openstack("token", "issue", cloud="u", clouds_yaml=uc, check=False,
                             json_out=False)
    assert denied.returncode != 0
    os_("user", "delete", user["id"], json_out=False)
    os_("project", "delete", proj["id"], json_out=False)
    assert f"proj-{tag}" not in {p["Name"] for p in os_("project", "list")}


def test_tenant_isolation(cloud, tmp_path: Path) -> None:
    os_ = cloud.openstack
    tag = secrets.token_hex(3)
    a = os_("project", "create", f"iso-a-{tag}")
    b = os_("project", "create", f"iso-b-{tag}")
    os_("user", "create", "--password", "pw", f"iso-u-{tag}")
    os_("role", "add", "--project", a["id"], "--user", f"iso-u-{tag}", "member", json_out=False)
    uc = user_cloud(cloud, tmp_path, "iso", {
        "username": f"iso-u-{tag}", "password": "pw", "project_id": a["id"],
        "user_domain_id": "default"})
    shown = cloud.openstack("project", "show", b["id"], cloud="iso", clouds_yaml=uc,
                            check=False, json_out=False)
    assert shown.returncode != 0
    tok = cloud.openstack("token", "issue", cloud="iso", clouds_yaml=uc)["id"]
    h = {"X-Auth-Token": tok}
    base = cloud.base_url + "/apis/kumo.io/v1/namespaces"
    admin_tok = os_("token", "issue")["id"]
    r = httpx.post(f"{base}/{b['id']}/configmaps", headers={"X-Auth-Token": admin_tok},
                   json={"kind": "ConfigMap", "metadata": {"name": "secret"}, "spec": {}})
    assert r.status_code == 201
    assert httpx.get(f"{base}/{b['id']}/configmaps/secret", headers=h).status_code == 404
    assert httpx.delete(f"{base}/{b['id']}/configmaps/secret", headers=h).status_code == 404
    assert httpx.get(f"{base}/{a['id']}/configmaps", headers=h).status_code == 200
    # the same through the scoped token's project listing
    projs = httpx.get(cloud.base_url + "/v3/auth/projects", headers=h).json()["projects"]
    assert [p["id"] for p in projs] == [a["id"]]


def test_keystone_errors(cloud) -> None:
    url = cloud.base_url + "/v3/auth/tokens"

    def auth(name: str, pw: str) -> httpx.Response:
        return httpx.post(url, json={"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": name, "password": pw, "domain": {"id": "default"}}}}}})

    wrong, nouser = auth("admin", "nope"), auth("nobody-" + secrets.token_hex(4), "nope")
    assert wrong.status_code == nouser.status_code == 401
    assert wrong.json()["error"]["message"] == nouser.json()["error"]["message"]
    assert set(wrong.json()["error"]) == {"code", "title", "message"}
    r = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()
    r = httpx.post(url, json={"auth": {}})
    assert r.status_code == 400
    r = httpx.post(url, content=b"x" * (2 << 20))
    assert r.status_code == 413
    admin_tok = cloud.openstack("token", "issue")["id"]
    h = {"X-Auth-Token": admin_tok}
    r = httpx.post(cloud.base_url + "/v3/projects", headers=h,
                   json={"project": {"name": "x", "enabled": "yes"}})
    assert r.status_code == 400 and "enabled" in r.json()["error"]["message"]
    r = httpx.post(cloud.base_url + "/v3/projects", headers=h, json={"project": {}})
    assert r.status_code == 400 and "name" in r.json()["error"]["message"]
    # revoke: the token stops working everywhere
    t = cloud.openstack("token", "issue")["id"]
    assert httpx.get(cloud.base_url + "/v3/auth/projects", headers={"X-Auth-Token": t}
                     ).status_code == 200
    r = httpx.delete(url, headers={"X-Auth-Token": admin_tok, "X-Subject-Token": t})
    assert r.status_code == 204
    r = httpx.get(cloud.base_url + "/v3/auth/projects", headers={"X-Auth-Token": t})
    assert r.status_code == 401
    assert httpx.head(url, headers={"X-Auth-Token": admin_tok, "X-Subject-Token": t}
                      ).status_code == 404
    # a disabled user is refused with the same message
    cloud.openstack("user", "create", "--password", "pw", "--disable", "dis-" + t[-6:])
    assert auth("dis-" + t[-6:], "pw").status_code == 401


def test_identity_sdk(cloud) -> None:
    conn = openstack.connect(auth_url=cloud.base_url + "/v3", username="admin",
                             password=cloud.admin_password, project_name="admin",
                             user_domain_id="default", project_domain_id="default",
                             region_name="RegionOne")
    assert conn.authorize()
    tag = secrets.token_hex(3)
    proj = conn.identity.create_project(name=f"sdk-{tag}", domain_id="default")
    user = conn.identity.create_user(name=f"sdk-u-{tag}", password="pw", domain_id="default")
    role = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(proj, user, role)
    assert conn.identity.validate_user_has_project_role(proj, user, role)
    assert f"sdk-{tag}" in {p.name for p in conn.identity.projects()}
    user_conn = openstack.connect(auth_url=cloud.base_url + "/v3", username=f"sdk-u-{tag}",
                                  password="pw", project_id=proj.id, user_domain_id="default",
                                  region_name="RegionOne")
    assert user_conn.authorize()
    assert user_conn.current_project_id == proj.id
    conn.identity.delete_user(user)
    conn.identity.delete_project(proj)
    assert conn.identity.find_project(f"sdk-{tag}") is None
