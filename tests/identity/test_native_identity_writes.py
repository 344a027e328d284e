"""Identity kinds are written through Keystone only: the native door, which would bypass
the NameClaims (a second ``admin``), the argon2 hashes and the revocation rules, serves
them read-only, to admins too."""

from __future__ import annotations

from kumo.model import identity as m
from kumo.model.names import NAME_CLAIM

from .conftest import Keystone

NATIVE = "/apis/kumo.io/v1"
MERGE = {"Content-Type": "application/merge-patch+json"}


async def test_admin_cannot_write_identity_kinds_natively(keystone: Keystone) -> None:
    c, h = keystone.client, keystone.headers
    r = await c.post(f"{NATIVE}/users", headers=h, json={
        "kind": "User", "metadata": {"name": "u-twin"},
        "spec": {"name": "admin", "domainId": "default", "enabled": True}})
    assert r.status_code == 403, r.text
    assert r.json()["kind"] == "Status" and "/v3" in r.json()["message"]
    admins = [u for u in (await keystone.rt.objects.list(m.USER, "")).items
              if u["spec"]["name"] == "admin"]
    assert len(admins) == 1
    uid = admins[0]["metadata"]["name"]
    r = await c.patch(f"{NATIVE}/users/{uid}", headers={**h, **MERGE},
                      json={"spec": {"name": "root"}})
    assert r.status_code == 403, r.text
    claim = (await keystone.rt.objects.list(NAME_CLAIM, "")).items[0]["metadata"]["name"]
    for path in (f"nameclaims/{claim}", f"users/{uid}"):
        assert (await c.delete(f"{NATIVE}/{path}", headers=h)).status_code == 403
    r = await c.post(f"{NATIVE}/roleassignments", headers=h, json={
        "kind": "RoleAssignment", "metadata": {"name": "forged"},
        "spec": {"roleId": "x", "userId": uid, "projectId": "y"}})
    assert r.status_code == 403
    assert (await keystone.rt.objects.get(m.USER, "", uid))["spec"]["name"] == "admin"
    # reading stays open to admins
    r = await c.get(f"{NATIVE}/users/{uid}", headers=h)
    assert r.status_code == 200 and r.json()["spec"]["name"] == "admin"
    assert (await c.get(f"{NATIVE}/nameclaims", headers=h)).status_code == 200
