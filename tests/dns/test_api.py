"""Designate v2 through HTTP, in process: rules, errors in Designate's format, lists."""

from __future__ import annotations

from typing import Any

from tests.quotas.conftest import Cloud, cloud

from .conftest import dns_call, dns_ok, zone

__all__ = ["cloud"]  # the in-process cloud, for this module only


async def _tenants(cloud: Cloud) -> tuple[Any, Any, Any]:
    a = await cloud.user(await cloud.project("dns-a"))
    b = await cloud.user(await cloud.project("dns-b"))
    admin = await cloud.user(await cloud.project("dns-admin"), "admin")
    return a, b, admin


def _error(r: Any, status: int, typ: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "type", "message", "request_id"}, body
    assert body["code"] == status and body["type"] == typ, body
    assert body["request_id"] == r.headers["x-openstack-request-id"]
    return body


async def test_zone_lifecycle_and_serial(cloud: Cloud) -> None:
    a, b, _ = await _tenants(cloud)
    z = await zone(cloud, a, "life.example.", ttl=300, description="d")
    assert (z["status"], z["action"], z["ttl"], z["type"]) == ("PENDING", "CREATE", 300,
                                                               "PRIMARY")
    serial = z["serial"]
    sets = await dns_ok(cloud, "GET", f"/v2/zones/{z['id']}/recordsets", a, 200)
    by_type = {s["type"]: s for s in sets["recordsets"]}
    assert by_type["NS"]["records"] == ["ns1.kumo.test."]
    assert by_type["SOA"]["records"][0].split()[2] == str(serial)
    upd = await dns_ok(cloud, "PATCH", f"/v2/zones/{z['id']}", a, json={"ttl": 900})
    assert upd["ttl"] == 900 and upd["serial"] > serial
    rs = await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/recordsets", a, json={
        "name": "mx.life.example.", "type": "MX", "records": ["10 mail.life.example."]})
    after = await dns_ok(cloud, "GET", f"/v2/zones/{z['id']}", a, 200)
    assert after["serial"] > upd["serial"]
    r = await dns_call(cloud, "GET", f"/v2/zones/{z['id']}", b)
    _error(r, 404, "zone_not_found")
    r = await dns_call(cloud, "DELETE", f"/v2/zones/{z['id']}/recordsets/{rs['id']}", b)
    _error(r, 404, "zone_not_found")
    soa = by_type["SOA"]["id"]
    r = await dns_call(cloud, "DELETE", f"/v2/zones/{z['id']}/recordsets/{soa}", a)
    _error(r, 403, "forbidden")
    gone = await dns_ok(cloud, "DELETE", f"/v2/zones/{z['id']}", a)
    assert (gone["status"], gone["action"]) == ("PENDING", "DELETE")
    _error(await dns_call(cloud, "GET", f"/v2/zones/{z['id']}", a), 404, "zone_not_found")
    again = await zone(cloud, b, "life.example.")  # the name is free again
    assert again["project_id"] == b.project_id


async def test_name_and_data_errors(cloud: Cloud) -> None:
    a, b, _ = await _tenants(cloud)
    for bad in ("nodot.example", "a..example.", "x" * 64 + ".example.", "example.",
                ("a" * 60 + ".") * 5):
        r = await dns_call(cloud, "POST", "/v2/zones", a,
                           json={"name": bad, "email": "h@x.example"})
        _error(r, 400, "invalid_object")
    _error(await dns_call(cloud, "POST", "/v2/zones", a, json={"name": "ok.example.",
                                                                "email": "nope"}),
           400, "invalid_object")
    _error(await dns_call(cloud, "POST", "/v2/zones", a, content=b"{"), 400, "bad_request")
    z = await zone(cloud, a, "data.example.")
    _error(await zone_dup(cloud, b), 409, "duplicate_zone")
    path = f"/v2/zones/{z['id']}/recordsets"
    cases = [
        ({"name": "h.data.example.", "type": "A", "records": ["300.1.1.1"]},
         400, "invalid_object"),
        ({"name": "h.data.example.", "type": "AAAA", "records": ["10.0.0.1"]},
         400, "invalid_object"),
        ({"name": "h.other.example.", "type": "A", "records": ["10.0.0.1"]},
         400, "invalid_recordset_location"),
        ({"name": "data.example.", "type": "CNAME", "records": ["x.example."]},
         400, "invalid_recordset_location"),
        ({"name": "h.data.example.", "type": "WKS", "records": ["x"]},
         400, "invalid_object"),
    ]
    for body, status, typ in cases:
        _error(await dns_call(cloud, "POST", path, a, json=body), status, typ)
    await dns_ok(cloud, "POST", path, a, json={"name": "h.data.example.", "type": "A",
                                               "records": ["10.0.0.1"]})
    _error(await dns_call(cloud, "POST", path, a, json={
        "name": "h.data.example.", "type": "A", "records": ["10.0.0.2"]}),
        409, "duplicate_recordset")
    _error(await dns_call(cloud, "POST", path, a, json={
        "name": "h.data.example.", "type": "CNAME", "records": ["y.data.example."]}),
        400, "invalid_recordset_location")
    await dns_ok(cloud, "POST", path, a, json={"name": "c.data.example.", "type": "CNAME",
                                               "records": ["h.data.example."]})
    _error(await dns_call(cloud, "POST", path, a, json={
        "name": "c.data.example.", "type": "TXT", "records": ['"t"']}),
        400, "invalid_recordset_location")


async def zone_dup(cloud: Cloud, who: Any) -> Any:
    return await dns_call(cloud, "POST", "/v2/zones", who,
                          json={"name": "DATA.example.", "email": "h@x.example"})


async def test_every_record_type_is_accepted(cloud: Cloud) -> None:
    a, _, _ = await _tenants(cloud)
    z = await zone(cloud, a, "types.example.")
    samples = {"A": "10.1.1.1", "AAAA": "fd00::1", "CNAME": "t.types.example.",
               "MX": "10 mx.types.example.", "TXT": '"v=spf1 -all"',
               "SRV": "10 5 5060 sip.types.example.", "PTR": "host.types.example.",
               "NS": "ns.elsewhere.example.", "CAA": '0 issue "letsencrypt.org"',
               "SSHFP": "4 2 " + "ab" * 32}
    for rtype, data in samples.items():
        rs = await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/recordsets", a, json={
            "name": f"{rtype.lower()}.types.example.", "type": rtype, "records": [data]})
        assert rs["type"] == rtype and len(rs["records"]) == 1


async def test_child_zone_of_another_project_and_quota(cloud: Cloud) -> None:
    a, b, admin = await _tenants(cloud)
    await zone(cloud, a, "parent.example.")
    _error(await dns_call(cloud, "POST", "/v2/zones", b, json={
        "name": "sub.parent.example.", "email": "h@x.example"}), 403, "illegal_child")
    await zone(cloud, a, "sub.parent.example.")  # the owner may
    await zone(cloud, b, "leaf.top.example.")
    _error(await dns_call(cloud, "POST", "/v2/zones", a, json={
        "name": "top.example.", "email": "h@x.example"}), 403, "illegal_parent")
    await dns_ok(cloud, "PATCH", f"/v2/quotas/{b.project_id}", admin, 200,
                 json={"zones": 2, "recordset_records": 2})
    shown = await dns_ok(cloud, "GET", f"/v2/quotas/{b.project_id}", b, 200)
    assert shown["zones"] == 2
    z2 = await zone(cloud, b, "second.example.")
    _error(await dns_call(cloud, "POST", "/v2/zones", b, json={
        "name": "third.example.", "email": "h@x.example"}), 413, "over_quota")
    _error(await dns_call(cloud, "POST", f"/v2/zones/{z2['id']}/recordsets", b, json={
        "name": "m.second.example.", "type": "A",
        "records": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]}), 413, "over_quota")
    _error(await dns_call(cloud, "PATCH", f"/v2/quotas/{b.project_id}", b,
                          json={"zones": 99}), 403, "forbidden")


async def test_lists_filters_sorting_paging_and_admin_headers(cloud: Cloud) -> None:
    a, b, admin = await _tenants(cloud)
    for n in ("c", "a", "b"):
        await zone(cloud, a, f"{n}.list.example.", ttl={"a": 100, "b": 200, "c": 300}[n])
    await zone(cloud, b, "b-only.example.")
    mine = await dns_ok(cloud, "GET", "/v2/zones?sort_key=name", a, 200)
    assert [z["name"] for z in mine["zones"]] == ["a.list.example.", "b.list.example.",
                                                   "c.list.example."]
    assert mine["metadata"]["total_count"] == 3
    desc = await dns_ok(cloud, "GET", "/v2/zones?sort_key=ttl&sort_dir=desc", a, 200)
    assert [z["ttl"] for z in desc["zones"]] == [300, 200, 100]
    one = await dns_ok(cloud, "GET", "/v2/zones?sort_key=name&limit=2", a, 200)
    assert len(one["zones"]) == 2 and "next" in one["links"]
    rest = await dns_ok(cloud, "GET", f"/v2/zones?sort_key=name&limit=2&marker="
                        f"{one['zones'][-1]['id']}", a, 200)
    assert [z["name"] for z in rest["zones"]] == ["c.list.example."]
    assert "next" not in rest["links"]
    found = await dns_ok(cloud, "GET", "/v2/zones?name=b.*", a, 200)
    assert [z["name"] for z in found["zones"]] == ["b.list.example."]
    _error(await dns_call(cloud, "GET", "/v2/zones?sort_key=nope", a), 400, "invalid_sort_key")
    _error(await dns_call(cloud, "GET", "/v2/zones", a,
                          headers={"X-Auth-All-Projects": "true"}), 403, "forbidden")
    own = await dns_ok(cloud, "GET", "/v2/zones", admin, 200)
    assert own["zones"] == []
    every = await dns_ok(cloud, "GET", "/v2/zones", admin, 200,
                         headers={"X-Auth-All-Projects": "true"})
    assert {"b-only.example.", "a.list.example."} <= {z["name"] for z in every["zones"]}
    made = await dns_ok(cloud, "POST", "/v2/zones", admin, headers={
        "X-Auth-Sudo-Project-Id": b.project_id}, json={"name": "sudo.example.",
                                                        "email": "h@x.example"})
    assert made["project_id"] == b.project_id
    rs_all = await dns_ok(cloud, "GET", "/v2/recordsets?type=NS", a, 200)
    assert len(rs_all["recordsets"]) == 3
    data = await dns_ok(cloud, "GET", "/v2/recordsets?data=ns1.kumo.test.", b, 200)
    assert len(data["recordsets"]) == 2


async def test_shared_zone(cloud: Cloud) -> None:
    a, b, _ = await _tenants(cloud)
    z = await zone(cloud, a, "shared.example.")
    mine = await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/recordsets", a, json={
        "name": "owner.shared.example.", "type": "A", "records": ["10.0.0.1"]})
    _error(await dns_call(cloud, "POST", f"/v2/zones/{z['id']}/recordsets", b, json={
        "name": "b.shared.example.", "type": "A", "records": ["10.0.0.2"]}),
        404, "zone_not_found")
    share = await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/shares", a, 201,
                         json={"target_project_id": b.project_id})
    assert share["target_project_id"] == b.project_id
    listed = await dns_ok(cloud, "GET", "/v2/zones", b, 200)
    assert [x["name"] for x in listed["zones"]] == ["shared.example."]
    assert listed["zones"][0]["shared"] is True
    theirs = await dns_ok(cloud, "POST", f"/v2/zones/{z['id']}/recordsets", b, json={
        "name": "b.shared.example.", "type": "A", "records": ["10.0.0.2"]})
    assert theirs["project_id"] == b.project_id
    _error(await dns_call(cloud, "DELETE", f"/v2/zones/{z['id']}/recordsets/{mine['id']}",
                          b), 403, "forbidden")
    _error(await dns_call(cloud, "PATCH", f"/v2/zones/{z['id']}", b, json={"ttl": 60}),
           403, "forbidden")
    await dns_ok(cloud, "DELETE", f"/v2/zones/{z['id']}/recordsets/{theirs['id']}", b)
    await dns_ok(cloud, "DELETE", f"/v2/zones/{z['id']}/shares/{share['id']}", a, 204)
    assert (await dns_ok(cloud, "GET", "/v2/zones", b, 200))["zones"] == []
