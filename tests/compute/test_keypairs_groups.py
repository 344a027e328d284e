"""Keypairs (import, generate, per user) and server groups."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .conftest import Nova, Tenant


def ed25519_public() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode() + " me@host"


def md5_fingerprint(public: str) -> str:
    raw = hashlib.md5(base64.b64decode(public.split()[1])).hexdigest()
    return ":".join(raw[i:i + 2] for i in range(0, 32, 2))


async def test_import_show_list_delete(nova: Nova, alice: Tenant) -> None:
    public = ed25519_public()
    r = await nova.call("POST", "/v2.1/os-keypairs", alice,
                        json={"keypair": {"name": "mine", "public_key": public}})
    assert r.status_code == 201
    kp = r.json()["keypair"]
    assert kp == {"name": "mine", "public_key": public, "fingerprint": md5_fingerprint(public),
                  "user_id": alice.user_id, "type": "ssh"}
    r = await nova.call("POST", "/v2.1/os-keypairs", alice,
                        json={"keypair": {"name": "mine", "public_key": public}})
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == "Key pair 'mine' already exists."
    shown = (await nova.ok("GET", "/v2.1/os-keypairs/mine", alice))["keypair"]
    assert shown["fingerprint"] == kp["fingerprint"] and shown["deleted"] is False
    assert isinstance(shown["id"], int) and shown["created_at"]
    listed = (await nova.ok("GET", "/v2.1/os-keypairs", alice))["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["mine"]
    assert "user_id" not in listed[0]["keypair"]
    bob = await nova.user(alice.project_id)
    assert (await nova.ok("GET", "/v2.1/os-keypairs", bob))["keypairs"] == []
    assert (await nova.call("GET", "/v2.1/os-keypairs/mine", bob)).status_code == 404
    r = await nova.call("GET", f"/v2.1/os-keypairs?user_id={alice.user_id}", bob)
    assert r.status_code == 403
    admin = await nova.admin()
    theirs = await nova.ok("GET", f"/v2.1/os-keypairs?user_id={alice.user_id}", admin)
    assert [k["keypair"]["name"] for k in theirs["keypairs"]] == ["mine"]
    assert (await nova.call("DELETE", "/v2.1/os-keypairs/mine", alice)).status_code == 204
    r = await nova.call("DELETE", "/v2.1/os-keypairs/mine", alice)
    assert r.status_code == 404
    assert r.json()["itemNotFound"]["message"] == f"Keypair mine not found for user {alice.user_id}"


async def test_generate(nova: Nova, alice: Tenant) -> None:
    kp = (await nova.ok("POST", "/v2.1/os-keypairs", alice, 201, version="2.91",
                        json={"keypair": {"name": "gen"}}))["keypair"]
    assert kp["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert kp["public_key"].startswith("ssh-rsa ") and kp["public_key"].endswith(
        "Generated-by-Nova")
    assert kp["fingerprint"] == md5_fingerprint(kp["public_key"])
    key = serialization.load_pem_private_key(kp["private_key"].encode(), None)
    assert key.key_size == 2048
    shown = (await nova.ok("GET", "/v2.1/os-keypairs/gen", alice))["keypair"]
    assert "private_key" not in shown
    r = await nova.call("POST", "/v2.1/os-keypairs", alice, json={"keypair": {"name": "g2"}})
    assert r.status_code == 400 and "'public_key' is a required property" in r.text
    old = await nova.call("POST", "/v2.1/os-keypairs", alice, version="2.1",
                          json={"keypair": {"name": "g3"}})
    assert old.status_code == 200 and "type" not in old.json()["keypair"]
    x509 = (await nova.ok("POST", "/v2.1/os-keypairs", alice, 201, version="2.10",
                          json={"keypair": {"name": "cert", "type": "x509"}}))["keypair"]
    assert x509["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    assert len(x509["fingerprint"].split(":")) == 20


@pytest.mark.parametrize(("body", "fragment"), [
    ({"name": "bad/name", "public_key": "x"}, "does not match"),
    ({"name": "", "public_key": "x"}, "An invalid 'name' value"),
    ({"name": "k", "public_key": "not a key"}, "Keypair data is invalid"),
    ({"name": "k", "public_key": "x", "type": "gpg"}, "is not one of ['ssh', 'x509']"),
    ({"public_key": "x"}, "'name' is a required property"),
    ({"name": "k", "public_key": "x", "extra": 1}, "'extra' was unexpected"),
])
async def test_bad_keypairs(nova: Nova, alice: Tenant, body: dict, fragment: str) -> None:
    r = await nova.call("POST", "/v2.1/os-keypairs", alice, json={"keypair": body})
    assert r.status_code == 400, r.text
    assert fragment in r.json()["badRequest"]["message"]
    assert (await nova.ok("GET", "/v2.1/os-keypairs", alice))["keypairs"] == []


async def test_keypair_name_rules_by_version(nova: Nova, alice: Tenant) -> None:
    public = ed25519_public()
    r = await nova.call("POST", "/v2.1/os-keypairs", alice, version="2.91",
                        json={"keypair": {"name": "me@host.x", "public_key": public}})
    assert r.status_code == 400
    await nova.ok("POST", "/v2.1/os-keypairs", alice, 201, version="2.92",
                  json={"keypair": {"name": "me@host.x", "public_key": public}})


async def test_keypair_quota(nova: Nova, alice: Tenant) -> None:
    admin = await nova.admin()
    await nova.ok("PUT", f"/v2.1/os-quota-sets/{alice.project_id}", admin,
                  json={"quota_set": {"key_pairs": 1}})
    await nova.ok("POST", "/v2.1/os-keypairs", alice, 201,
                  json={"keypair": {"name": "a", "public_key": ed25519_public()}})
    r = await nova.call("POST", "/v2.1/os-keypairs", alice,
                        json={"keypair": {"name": "b", "public_key": ed25519_public()}})
    assert r.status_code == 403 and "Maximum number of key pairs exceeded" in r.text


async def test_server_groups(nova: Nova, alice: Tenant, public_image: str) -> None:
    g = (await nova.ok("POST", "/v2.1/os-server-groups", alice, json={"server_group": {
        "name": "spread", "policy": "anti-affinity",
        "rules": {"max_server_per_host": 2}}}))["server_group"]
    assert g["policy"] == "anti-affinity" and g["rules"] == {"max_server_per_host": 2}
    assert g["members"] == [] and g["project_id"] == alice.project_id
    assert g["user_id"] == alice.user_id
    old = (await nova.ok("POST", "/v2.1/os-server-groups", alice, version="2.14", json={
        "server_group": {"name": "old", "policies": ["affinity"]}}))["server_group"]
    assert old["policies"] == ["affinity"] and old["metadata"] == {}
    shown = (await nova.ok("GET", f"/v2.1/os-server-groups/{old['id']}", alice))["server_group"]
    assert shown["policy"] == "affinity" and shown["rules"] == {}
    listed = (await nova.ok("GET", "/v2.1/os-server-groups", alice))["server_groups"]
    assert {x["id"] for x in listed} == {g["id"], old["id"]}
    bob = await nova.tenant("beta")
    assert (await nova.ok("GET", "/v2.1/os-server-groups", bob))["server_groups"] == []
    assert (await nova.call("GET", f"/v2.1/os-server-groups/{g['id']}", bob)).status_code == 404
    admin = await nova.admin()
    every = (await nova.ok("GET", "/v2.1/os-server-groups?all_projects=1", admin))
    assert len(every["server_groups"]) == 2
    for body, version, fragment in (
            ({"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}, "2.64",
             "Only anti-affinity policy supports rules."),
            ({"name": "x", "policy": "clustered"}, "2.64", "is not one of"),
            ({"name": "x", "policies": ["affinity"]}, "2.64", "'policies' was unexpected"),
            ({"name": "x", "policies": ["soft-affinity"]}, "2.14", "is not valid"),
            ({"name": "x"}, "2.64", "'policy' is a required property")):
        r = await nova.call("POST", "/v2.1/os-server-groups", alice, version=version,
                            json={"server_group": body})
        assert r.status_code == 400, body
        assert fragment in r.json()["badRequest"]["message"]
    assert (await nova.call("DELETE", f"/v2.1/os-server-groups/{old['id']}", alice)
            ).status_code == 204
    r = await nova.call("GET", f"/v2.1/os-server-groups/{old['id']}", alice)
    assert r.status_code == 404 and f"Instance group {old['id']} could not be found." in r.text
