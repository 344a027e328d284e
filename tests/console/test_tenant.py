"""Tenant pages: what a member sees and changes, and what it cannot."""

from __future__ import annotations

import asyncio

from kumo.model import compute as cm
from kumo.model import network as nm

from .conftest import Person, browser, csrf_of, person, sse


async def _net(c, name: str, cidr: str):  # noqa: ANN001, ANN202
    page = await c.get("/console/list/networks")
    return await c.post("/console/networks", data={"csrf": csrf_of(page.text), "name": name,
                                                   "cidr": cidr})


async def test_every_tenant_page_renders(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    for path in ("/console/", "/console/servers", "/console/servers/new", "/console/images",
                 "/console/keypairs", *(f"/console/list/{n}" for n in (
                     "networks", "subnets", "ports", "routers", "floatingips",
                     "security-groups", "zones", "recordsets"))):
        r = await c.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert "<h1>" in r.text and "Traceback" not in r.text


async def test_network_create_and_isolation(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    r = await _net(c, "web-net", "10.20.0.0/24")
    assert r.status_code == 303
    page = await c.get("/console/list/subnets")
    assert "10.20.0.0/24" in page.text
    bob = await browser(cloud, await person(cloud, "bob"))
    for path in ("/console/list/networks", "/console/list/subnets"):
        assert "web-net" not in (await bob.get(path)).text
        assert "10.20.0.0/24" not in (await bob.get(path)).text


async def test_bad_network_input_shows_api_error_and_changes_nothing(cloud, alice: Person
                                                                     ) -> None:
    c = await browser(cloud, alice)
    before = len((await cloud.objects.list(nm.NETWORK, alice.project_id)).items)
    for name, cidr in (("bad-cidr", "10.0.0.0/99"), ("x" * 300, ""), ("huge", "1" * 5000)):
        r = await _net(c, name, cidr)
        assert r.status_code == 400, (name[:10], r.status_code)
        assert 'role="alert"' in r.text and "Traceback" not in r.text
    after = len((await cloud.objects.list(nm.NETWORK, alice.project_id)).items)
    assert after == before


async def test_csrf_less_post_is_refused_and_changes_nothing(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    r = await c.post("/console/networks", data={"name": "sneaky"})
    assert r.status_code == 403
    r = await c.post("/console/networks", data={"name": "sneaky", "csrf": "0" * 40})
    assert r.status_code == 403
    nets = (await cloud.objects.list(nm.NETWORK, alice.project_id)).items
    assert not [n for n in nets if n["spec"].get("name") == "sneaky"]


async def test_bad_server_input_shows_api_error(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    form = await c.get("/console/servers/new")
    image = await cloud.image_id()
    for fields in ({"name": "vm", "image": "", "flavor": ""},
                   {"name": "vm", "image": "no-such-image", "flavor": "1"},
                   {"name": "x" * 1000, "image": image, "flavor": "1"},
                   {"name": "vm", "image": image, "flavor": "no-such-flavor"},
                   {"name": "vm", "image": image, "flavor": "1", "keypair": "nope"},
                   {"name": "vm", "image": image, "flavor": "1", "user_data": "u" * 60000}):
        r = await c.post("/console/servers", data={"csrf": csrf_of(form.text), **fields})
        assert r.status_code in (400, 404, 413), (r.status_code, r.text[:500])
        assert 'role="alert"' in r.text and "Traceback" not in r.text
    assert await cloud.servers(alice.project_id) == []


async def test_server_create_list_live_and_delete(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    image = await cloud.image_id()
    form = await c.get("/console/servers/new")
    r = await c.post("/console/servers", data={"csrf": csrf_of(form.text), "name": "web1",
                                               "image": image, "flavor": "1",
                                               "user_data": "#!/bin/sh\necho hi"})
    assert r.status_code == 303, r.text[:500]
    sid = r.headers["location"].rsplit("/", 1)[1]
    listing = await c.get("/console/servers")
    assert f'id="s-{sid}"' in listing.text and "BUILD" in listing.text
    rev = listing.text.split('data-rev="')[1].split('"')[0]
    app = cloud.client._transport.app
    watch = asyncio.create_task(sse(app, f"/console/servers?rev={rev}",
                                    c.cookies["kumo_session"],
                                    lambda ev: bool(ev) and ev[-1]["status"] == "ACTIVE"))
    await asyncio.sleep(0.2)
    await cloud.play_agent(alice.project_id, sid, vm_state="active", power_state=1)
    seen = await watch
    assert seen[-1]["id"] == sid and seen[-1]["status"] == "ACTIVE"
    detail = await c.get(f"/console/servers/{sid}")
    assert detail.status_code == 200 and "ACTIVE" in detail.text
    rev = detail.text.split('id="log" data-rev="')[1].split('"')[0]
    watch = asyncio.create_task(sse(app, f"/console/servers/{sid}?rev={rev}",
                                    c.cookies["kumo_session"],
                                    lambda ev: any("booted" in e.get("log", "") for e in ev)))
    await asyncio.sleep(0.2)
    await cloud.objects.create({"kind": cm.CONSOLE_LOG, "metadata": {
        "name": sid, "namespace": alice.project_id}, "spec": {"text": "kumo-tiny booted web1"}})
    assert (await watch)[-1] == {"log": "kumo-tiny booted web1"}
    bob = await browser(cloud, await person(cloud, "bob"))
    assert sid not in (await bob.get("/console/servers")).text
    assert (await bob.get(f"/console/servers/{sid}")).status_code == 404
    r = await c.post(f"/console/servers/{sid}/action",
                     data={"csrf": csrf_of(detail.text), "action": "delete"})
    assert r.status_code == 303
    server = await cloud.server_obj(alice.project_id, sid)
    assert server is None or server["metadata"].get("deletionTimestamp")


async def test_timeline_shows_the_trace(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    await _net(c, "traced", "10.30.0.0/24")
    nets = (await cloud.objects.list(nm.NETWORK, alice.project_id)).items
    nid = [n for n in nets if n["spec"].get("name") == "traced"][0]["metadata"]["name"]
    r = await c.get(f"/console/trace/networks/{nid}")
    assert r.status_code == 200 and "Event timeline" in r.text
    bob = await browser(cloud, await person(cloud, "bob"))
    assert (await bob.get(f"/console/trace/networks/{nid}")).status_code in (403, 404)


async def test_operator_pages_are_admin_only(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    for path in ("/console/admin/hosts", "/console/admin/doctor"):
        r = await c.get(path)
        assert r.status_code == 403, path
    assert "/console/admin/" not in (await c.get("/console/")).text
    boss = await browser(cloud, await person(cloud, "ops", role="admin"))
    await cloud.host("node1")
    hosts = await boss.get("/console/admin/hosts")
    assert hosts.status_code == 200 and "node1" in hosts.text
    doc = await boss.get("/console/admin/doctor")
    assert doc.status_code == 200 and "doctor" in doc.text
    assert "compact_revision" in doc.text  # the store's health beside the findings


async def test_live_stream_ends_when_the_token_expires(cloud, alice: Person) -> None:
    import time

    token = cloud.rt.tokens.issue(alice.user_id, methods=["password"],
                                  project_id=alice.project_id, expires_at=time.time() + 1.5)
    t0 = time.monotonic()
    events = await sse(cloud.client._transport.app, "/console/servers?rev=0", token,
                       lambda ev: bool(ev) and ev[-1] == {})
    assert events[-1] == {} and time.monotonic() - t0 < 8


async def test_path_parameters_cannot_climb_out_of_the_api_path(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    # (a client normalizes a literal "..": the encoded one reaches the console as "..")
    for path in ("/console/servers/%2e%2e", "/console/trace/servers/%2e%2e",
                 "/console/trace/%2e%2e/x", "/console/servers/a%3fb"):
        r = await c.get(path)
        assert r.status_code == 404, (path, r.status_code)


async def test_dns_zones_and_records_are_the_projects(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    tok = c.cookies["kumo_session"]  # the session's own Keystone token
    r = await cloud.client.post("/dns/v2/zones", headers={"X-Auth-Token": tok}, json={
        "name": "alice-console.example.", "email": "ops@example.org"})
    assert r.status_code == 202, r.text
    page = await c.get("/console/list/zones")
    assert page.status_code == 200 and "alice-console.example." in page.text
    records = await c.get("/console/list/recordsets")
    assert records.status_code == 200 and "alice-console.example." in records.text  # SOA, NS
    bob = await browser(cloud, await person(cloud, "bob"))
    assert "alice-console.example." not in (await bob.get("/console/list/zones")).text


async def test_bad_project_switch_and_action_change_nothing(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    page = await c.get("/console/")
    before = c.cookies["kumo_session"]
    foreign = (await person(cloud, "eve")).project_id
    for project in (foreign, "no-such-project", "x" * 5000):
        r = await c.post("/console/project", data={"csrf": csrf_of(page.text),
                                                   "project_id": project})
        assert r.status_code in (400, 401, 403, 404), r.status_code
        assert 'role="alert"' in r.text
    assert c.cookies["kumo_session"] == before
    ctx = await cloud.rt.tokens.validate(before)
    assert ctx.project_id == alice.project_id
    r = await c.post("/console/servers/nope/action", data={"csrf": csrf_of(page.text),
                                                           "action": "explode"})
    assert r.status_code == 400 and "Unknown action" in r.text
