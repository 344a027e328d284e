"""TLDs, blacklists and TSIG keys (admin APIs) and what they change for zones."""

from __future__ import annotations

from tests.quotas.conftest import Cloud, cloud

from .conftest import dns_call, dns_ok, zone

__all__ = ["cloud"]


async def test_tlds_and_blacklists_rule_zone_names(cloud: Cloud) -> None:
    member = await cloud.user(await cloud.project("adm-a"))
    admin = await cloud.user(await cloud.project("adm-admin"), "admin")
    r = await dns_call(cloud, "POST", "/v2/tlds", member,
                       json={"name": "com"})
    assert r.status_code == 403 and r.json()["type"] == "forbidden"
    tld = await dns_ok(cloud, "POST", "/v2/tlds", admin, 201, json={"name": "test",
                                                                     "description": "t"})
    assert tld["name"] == "test"
    r = await dns_call(cloud, "POST", "/v2/tlds", admin, json={"name": "test"})
    assert r.status_code == 409
    r = await dns_call(cloud, "POST", "/v2/zones", member, json={"name": "x.other.",
                                                                  "email": "h@x.test"})
    assert r.status_code == 400 and "not under a known TLD" in r.json()["message"]
    await zone(cloud, member, "fine.test.")
    bl = await dns_ok(cloud, "POST", "/v2/blacklists", admin, 201,
                      json={"pattern": r"^bad\..*\.test\.$"})
    r = await dns_call(cloud, "POST", "/v2/zones", member, json={"name": "bad.zone.test.",
                                                                  "email": "h@x.test"})
    assert r.status_code == 400 and "blacklisted" in r.json()["message"]
    made = await dns_ok(cloud, "POST", "/v2/zones", admin, json={"name": "bad.zone.test.",
                                                                 "email": "h@x.test"})
    assert made["name"] == "bad.zone.test."
    listed = await dns_ok(cloud, "GET", "/v2/blacklists", admin, 200)
    assert [b["pattern"] for b in listed["blacklists"]] == [r"^bad\..*\.test\.$"]
    await dns_ok(cloud, "DELETE", f"/v2/blacklists/{bl['id']}", admin, 204)
    await zone(cloud, member, "bad.again.test.")
    await dns_ok(cloud, "DELETE", f"/v2/tlds/{tld['id']}", admin, 204)
    await zone(cloud, member, "free.other.")


async def test_tsigkeys_crud(cloud: Cloud) -> None:
    admin = await cloud.user(await cloud.project("adm-admin2"), "admin")
    key = await dns_ok(cloud, "POST", "/v2/tsigkeys", admin, 201, json={
        "name": "ops-key", "algorithm": "hmac-sha256", "secret": "c2VjcmV0c2VjcmV0",
        "scope": "POOL", "resource_id": "794ccc2c-d751-44fe-b57f-8894c9f5c842"})
    assert key["algorithm"] == "hmac-sha256" and key["secret"] == "c2VjcmV0c2VjcmV0"
    r = await dns_call(cloud, "POST", "/v2/tsigkeys", admin, json={
        "name": "bad", "algorithm": "rot13", "secret": "c2VjcmV0"})
    assert r.status_code == 400
    upd = await dns_ok(cloud, "PATCH", f"/v2/tsigkeys/{key['id']}", admin, 200,
                       json={"name": "ops-key-2"})
    assert upd["name"] == "ops-key-2"
    await dns_ok(cloud, "DELETE", f"/v2/tsigkeys/{key['id']}", admin, 204)
    r = await dns_call(cloud, "GET", f"/v2/tsigkeys/{key['id']}", admin)
    assert r.status_code == 404
