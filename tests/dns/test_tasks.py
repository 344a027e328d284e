"""Zone import/export round trip and transfers between projects, through HTTP."""

from __future__ import annotations

from tests.quotas.conftest import Cloud, cloud

from .conftest import dns_call, dns_ok, zone

__all__ = ["cloud"]

ZONE_FILE = """$ORIGIN imp.example.
$TTL 600
@ IN SOA ns.imp.example. admin.imp.example. 1 3600 600 86400 300
@ IN NS ns.imp.example.
www 300 IN A 10.0.0.1
www IN A 10.0.0.2
mail IN MX 10 mx.imp.example.
txt IN TXT "hello" "world"
alias IN CNAME www
_sip._tcp IN SRV 10 5 5060 sip.imp.example.
"""


async def test_import_export_round_trip(cloud: Cloud) -> None:
    a = await cloud.user(await cloud.project("imp-a"))
    task = await dns_ok(cloud, "POST", "/v2/zones/tasks/imports", a, content=ZONE_FILE,
                        headers={"Content-Type": "text/dns"})
    assert task["status"] == "COMPLETE", task
    z = await dns_ok(cloud, "GET", f"/v2/zones/{task['zone_id']}", a, 200)
    assert (z["name"], z["email"], z["ttl"]) == ("imp.example.", "admin@imp.example", 600)
    sets = (await dns_ok(cloud, "GET", f"/v2/zones/{z['id']}/recordsets?type=A", a,
                         200))["recordsets"]
    assert sorted(sets[0]["records"]) == ["10.0.0.1", "10.0.0.2"] and sets[0]["ttl"] == 300
    exp = await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/tasks/export", a)
    r = await dns_call(cloud, "GET", f"/v2/zones/tasks/exports/{exp['id']}/export", a)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/dns")
    text = r.text
    assert 'txt.imp.example. 600 IN TXT "hello" "world"' in text
    assert "alias.imp.example. 600 IN CNAME www.imp.example." in text
    # the export imports again (elsewhere) and gives the same records
    await dns_ok(cloud, "DELETE", f"/v2/zones/{z['id']}", a)
    again = await dns_ok(cloud, "POST", "/v2/zones/tasks/imports", a, content=text,
                         headers={"Content-Type": "text/dns"})
    assert again["status"] == "COMPLETE", again
    r2 = await dns_call(cloud, "GET", f"/v2/zones/tasks/exports/{exp['id']}/export", a)
    assert r2.status_code == 404  # the exported zone is gone (a new id now)
    exp2 = await dns_ok(cloud, "POST", f"/v2/zones/{again['zone_id']}/tasks/export", a)
    text2 = (await dns_call(cloud, "GET", f"/v2/zones/tasks/exports/{exp2['id']}/export",
                            a)).text
    body = sorted(line for line in text.splitlines() if " SOA " not in line)
    assert body == sorted(line for line in text2.splitlines() if " SOA " not in line)


async def test_bad_import_is_an_error_task(cloud: Cloud) -> None:
    a = await cloud.user(await cloud.project("imp-b"))
    bad = await dns_ok(cloud, "POST", "/v2/zones/tasks/imports", a,
                       content="$ORIGIN x.example.\nwww IN A 10.0.0.1\n",
                       headers={"Content-Type": "text/dns"})
    assert bad["status"] == "ERROR" and bad["zone_id"] is None
    r = await dns_call(cloud, "POST", "/v2/zones/tasks/imports", a, content="x",
                       headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


async def test_transfer_between_projects(cloud: Cloud) -> None:
    a = await cloud.user(await cloud.project("xfer-a"))
    b = await cloud.user(await cloud.project("xfer-b"))
    c = await cloud.user(await cloud.project("xfer-c"))
    z = await zone(cloud, a, "moving.example.")
    await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/recordsets", a, json={
        "name": "www.moving.example.", "type": "A", "records": ["10.0.0.9"]})
    req = await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/tasks/transfer_requests", a, 201,
                       json={"target_project_id": b.project_id, "description": "to b"})
    assert req["status"] == "ACTIVE" and req["key"] and req["zone_name"] == "moving.example."
    seen_by_b = await dns_ok(cloud, "GET", f"/v2/zones/tasks/transfer_requests/{req['id']}",
                             b, 200)
    assert "key" not in seen_by_b
    r = await dns_call(cloud, "GET", f"/v2/zones/tasks/transfer_requests/{req['id']}", c)
    assert r.status_code == 404
    r = await dns_call(cloud, "POST", "/v2/zones/tasks/transfer_accepts", b, json={
        "key": "WRONG", "zone_transfer_request_id": req["id"]})
    assert r.status_code == 403
    acc = await dns_ok(cloud, "POST", "/v2/zones/tasks/transfer_accepts", b, 201, json={
        "key": req["key"], "zone_transfer_request_id": req["id"]})
    assert acc["status"] == "COMPLETE" and acc["zone_id"] == z["id"]
    moved = await dns_ok(cloud, "GET", f"/v2/zones/{z['id']}", b, 200)
    assert moved["project_id"] == b.project_id and moved["serial"] > z["serial"]
    assert (await dns_call(cloud, "GET", f"/v2/zones/{z['id']}", a)).status_code == 404
    sets = await dns_ok(cloud, "GET", f"/v2/zones/{z['id']}/recordsets?type=A", b, 200)
    assert sets["recordsets"][0]["records"] == ["10.0.0.9"]
    await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/recordsets", b, json={
        "name": "new.moving.example.", "type": "A", "records": ["10.0.0.10"]})
    r = await dns_call(cloud, "POST", "/v2/zones", c, json={"name": "moving.example.",
                                                             "email": "h@x.example"})
    assert r.status_code == 409  # the name stays claimed, now by b
    await dns_ok(cloud, "DELETE", f"/v2/zones/{z['id']}", b)
    await zone(cloud, c, "moving.example.")
