"""Keystone through the real `openstack` CLI against a live `kumo up`."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytestmark = pytest.mark.e2e


def user_cloud(cloud: Any, tmp_path: Path, name: str, auth: dict[str, Any],
               auth_type: str | None = None) -> Path:
    """A clouds.yaml holding the admin's cloud plus one named ``name``."""
    doc = yaml.safe_load(cloud.clouds_yaml.read_text())
    entry: dict[str, Any] = {"auth": {"auth_url": cloud.base_url + "/v3", **auth},
                             "region_name": "RegionOne", "identity_api_version": 3}
    if auth_type:
        entry["auth_type"] = auth_type
    doc["clouds"][name] = entry
    path = tmp_path / f"clouds-{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_token_and_catalog(cloud: Any) -> None:
    tok = cloud.openstack("token", "issue")
    assert tok["id"] and tok["project_id"] and tok["user_id"] and tok["expires"]
    rows = cloud.openstack("catalog", "list")
    types = {r["Type"] for r in rows}
    assert "identity" in types and "compute" in types
    ident = cloud.openstack("catalog", "show", "identity")
    assert cloud.base_url + "/v3" in str(ident["endpoints"])
    assert {s["Type"] for s in cloud.openstack("service", "list")} == types
    assert cloud.openstack("endpoint", "list", "--interface", "public")
    assert [r["Region"] for r in cloud.openstack("region", "list")] == ["RegionOne"]


def test_identity_flow(cloud: Any, tmp_path: Path) -> None:
    os_ = cloud.openstack
    tag = secrets.token_hex(3)
    proj = os_("project", "create", "--description", "e2e", f"proj-{tag}")
    assert proj["name"] == f"proj-{tag}" and proj["domain_id"] == "default"
    assert f"proj-{tag}" in {p["Name"] for p in os_("project", "list")}
    assert os_("project", "show", proj["id"])["description"] == "e2e"
    assert os_("project", "show", f"proj-{tag}")["id"] == proj["id"]
    os_("project", "set", "--description", "changed", proj["id"], json_out=False)
    assert os_("project", "show", proj["id"])["description"] == "changed"
    dup = os_("project", "create", f"proj-{tag}", check=False, json_out=False)
    assert dup.returncode != 0 and "409" in dup.stderr

    user = os_("user", "create", "--password", "pw-" + tag, "--project", proj["id"],
               "--email", "u@example.com", f"user-{tag}")
    assert user["default_project_id"] == proj["id"] and "password" not in user
    os_("role", "add", "--project", proj["id"], "--user", user["id"], "member", json_out=False)
    rows = os_("role", "assignment", "list", "--names", "--user", user["id"])
    assert [(r["Role"], r["User"], r["Project"]) for r in rows] == [
        ("member", f"user-{tag}@Default", f"proj-{tag}@Default")]
    eff = os_("role", "assignment", "list", "--effective", "--names", "--user", user["id"])
    assert {r["Role"] for r in eff} == {"member", "reader"}

    # the new user authenticates, sees its project, cannot administer
    uc = user_cloud(cloud, tmp_path, "u", {
        "username": f"user-{tag}", "password": "pw-" + tag, "project_name": f"proj-{tag}",
        "user_domain_id": "default", "project_domain_id": "default"})
    mine = os_("token", "issue", cloud="u", clouds_yaml=uc)
    assert mine["project_id"] == proj["id"] and mine["user_id"] == user["id"]
    own = os_("project", "list", cloud="u", clouds_yaml=uc)
    assert [p["ID"] for p in own] == [proj["id"]]  # the CLI falls back to the user's projects
    assert os_("user", "show", user["id"], cloud="u", clouds_yaml=uc)["name"] == f"user-{tag}"
    for args in (("user", "list"), ("project", "create", "nope"), ("role", "list")):
        bad = os_(*args, cloud="u", clouds_yaml=uc, check=False, json_out=False)
        assert bad.returncode != 0 and "403" in bad.stderr, args

    # application credential, then authenticate with it
    ac = os_("application", "credential", "create", f"ac-{tag}", cloud="u", clouds_yaml=uc)
    assert ac["Secret"] and ac["Project ID"] == proj["id"]
    listed = os_("application", "credential", "list", cloud="u", clouds_yaml=uc)
    assert [r["ID"] for r in listed] == [ac["ID"]]
    acc = user_cloud(cloud, tmp_path, "ac", {"application_credential_id": ac["ID"],
                                             "application_credential_secret": ac["Secret"]},
                     auth_type="v3applicationcredential")
    t2 = os_("token", "issue", cloud="ac", clouds_yaml=acc)
    assert t2["project_id"] == proj["id"] and t2["user_id"] == user["id"]
    os_("application", "credential", "delete", ac["ID"], cloud="u", clouds_yaml=uc,
        json_out=False)
    gone = os_("token", "issue", cloud="ac", clouds_yaml=acc, check=False, json_out=False)
    assert gone.returncode != 0

    # the user changes its password: the old one stops working
    os_("user", "password", "set", "--original-password", "pw-" + tag, "--password",
        "new-" + tag, cloud="u", clouds_yaml=uc, json_out=False)
    old = os_("token", "issue", cloud="u", clouds_yaml=uc, check=False, json_out=False)
    assert old.returncode != 0
    uc2 = user_cloud(cloud, tmp_path, "u2", {
        "username": f"user-{tag}", "password": "new-" + tag, "project_id": proj["id"],
        "user_domain_id": "default"})
    assert os_("token", "issue", cloud="u2", clouds_yaml=uc2)["project_id"] == proj["id"]

    # removing the role takes effect at once
    os_("role", "remove", "--project", proj["id"], "--user", user["id"], "member",
        json_out=False)
    denied = os_("token", "issue", cloud="u2", clouds_yaml=uc2, check=False, json_out=False)
    assert denied.returncode != 0
    os_("user", "delete", user["id"], json_out=False)
    os_("project", "delete", proj["id"], json_out=False)
    assert f"proj-{tag}" not in {p["Name"] for p in os_("project", "list")}


def test_tenant_isolation(cloud: Any, tmp_path: Path) -> None:
    os_ = cloud.openstack
    tag = secrets.token_hex(3)
    a = os_("project", "create", f"iso-a-{tag}")
    b = os_("project", "create", f"iso-b-{tag}")
    for who, proj in (("ua", a), ("ub", b)):
        os_("user", "create", "--password", "pw", f"iso-{who}-{tag}")
        os_("role", "add", "--project", proj["id"], "--user", f"iso-{who}-{tag}", "member",
            json_out=False)
    ua = user_cloud(cloud, tmp_path, "iso-a", {
        "username": f"iso-ua-{tag}", "password": "pw", "project_id": a["id"],
        "user_domain_id": "default"})
    ub = user_cloud(cloud, tmp_path, "iso-b", {
        "username": f"iso-ub-{tag}", "password": "pw", "project_id": b["id"],
        "user_domain_id": "default"})
    shown = os_("project", "show", b["id"], cloud="iso-a", clouds_yaml=ua, check=False,
                json_out=False)
    assert shown.returncode != 0
    assert os_("project", "show", a["id"], cloud="iso-a", clouds_yaml=ua)["id"] == a["id"]
    # B's application credential is invisible to A
    bcred = os_("application", "credential", "create", f"b-{tag}", cloud="iso-b",
                clouds_yaml=ub)
    peek = os_("application", "credential", "show", bcred["ID"], cloud="iso-a",
               clouds_yaml=ua, check=False, json_out=False)
    assert peek.returncode != 0
    assert os_("application", "credential", "list", cloud="iso-a", clouds_yaml=ua) == []

    # the same tenancy applies to kumo's native API
    tok = os_("token", "issue", cloud="iso-a", clouds_yaml=ua)["id"]
    h = {"X-Auth-Token": tok}
    base = cloud.base_url + "/apis/kumo.io/v1/namespaces"
    admin_tok = os_("token", "issue")["id"]
    r = httpx.post(f"{base}/{b['id']}/configmaps", headers={"X-Auth-Token": admin_tok},
                   json={"kind": "ConfigMap", "metadata": {"name": "secret"}, "spec": {}})
    assert r.status_code == 201
    assert httpx.get(f"{base}/{b['id']}/configmaps/secret", headers=h).status_code == 404
    assert httpx.delete(f"{base}/{b['id']}/configmaps/secret", headers=h).status_code == 404
    assert httpx.get(f"{base}/{a['id']}/configmaps", headers=h).status_code == 200
    projs = httpx.get(cloud.base_url + "/v3/auth/projects", headers=h).json()["projects"]
    assert [p["id"] for p in projs] == [a["id"]]


def test_keystone_errors(cloud: Any) -> None:
    url = cloud.base_url + "/v3/auth/tokens"

    def auth(name: str, pw: str) -> httpx.Response:
        return httpx.post(url, json={"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": name, "password": pw, "domain": {"id": "default"}}}}}})

    wrong, nouser = auth("admin", "nope"), auth("nobody-" + secrets.token_hex(4), "nope")
    assert wrong.status_code == nouser.status_code == 401
    assert wrong.json() == nouser.json()
    assert set(wrong.json()["error"]) == {"code", "title", "message"}
    r = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()
    r = httpx.post(url, json={"auth": {}})
    assert r.status_code == 400 and "identity" in r.json()["error"]["message"]
    r = httpx.post(url, content=b"x" * (2 << 20))
    assert r.status_code == 413
    admin_tok = cloud.openstack("token", "issue")["id"]
    h = {"X-Auth-Token": admin_tok}
    r = httpx.post(cloud.base_url + "/v3/projects", headers=h,
                   json={"project": {"name": "x", "enabled": "yes"}})
    assert r.status_code == 400 and "enabled" in r.json()["error"]["message"]
    r = httpx.post(cloud.base_url + "/v3/projects", headers=h, json={"project": {}})
    assert r.status_code == 400 and "name" in r.json()["error"]["message"]
    r = httpx.post(cloud.base_url + "/v3/projects", headers=h,
                   json={"project": {"name": "x", "domain_id": "nope"}})
    assert r.status_code == 400 and "domain" in r.json()["error"]["message"]
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
    name = "dis-" + secrets.token_hex(3)
    cloud.openstack("user", "create", "--password", "pw", "--disable", name)
    assert auth(name, "pw").json() == wrong.json()
