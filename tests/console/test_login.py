"""Login, CSRF, session cookie flags, logout revokes, the root redirect."""

from __future__ import annotations

from .conftest import Person, browser, csrf_of, person


async def test_root_sends_browsers_to_console_and_clients_to_keystone(cloud) -> None:
    r = await cloud.client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    r = await cloud.client.get("/", headers={"Accept": "application/json"})
    assert r.status_code == 300 and "versions" in r.json()


async def test_no_session_redirects_to_login(cloud) -> None:
    r = await cloud.client.get("/console/servers")
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


async def test_login_sets_strict_httponly_cookie_and_shows_project(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    cookie = [h for h in c.cookies.jar if h.name == "kumo_session"][0]
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = await c.get("/console/")
    assert page.status_code == 200
    assert alice.name in page.text and "Quota usage" in page.text


async def test_bad_password_shows_keystone_message_and_no_session(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    c.cookies.clear()
    form = await c.get("/console/login")
    r = await c.post("/console/login", data={"csrf": csrf_of(form.text), "domain": "Default",
                                             "user": alice.name, "password": "wrong"})
    assert r.status_code == 401
    assert "The request you have made requires authentication." in r.text
    assert "kumo_session" not in c.cookies


async def test_login_without_csrf_is_refused(cloud, alice: Person) -> None:
    r = await cloud.client.post("/console/login", data={
        "domain": "Default", "user": alice.name, "password": alice.password})
    assert r.status_code == 403 and "kumo_session" not in r.cookies


async def test_logout_revokes_the_token(cloud, alice: Person) -> None:
    c = await browser(cloud, alice)
    token = c.cookies["kumo_session"]
    page = await c.get("/console/")
    r = await c.post("/console/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    check = await cloud.client.get("/v3/auth/tokens", headers={
        "X-Auth-Token": token, "X-Subject-Token": token})
    assert check.status_code == 404 or check.status_code == 401, check.text
    again = await cloud.client.get("/console/", headers={"Cookie": f"kumo_session={token}"})
    assert again.status_code == 303


async def test_project_switcher_rescopes(cloud, alice: Person) -> None:
    other = await person(cloud, "second")
    admin = await cloud.admin()
    from kumo.model import identity as m
    roles = await cloud.objects.list(m.ROLE, "", label_selector="name=member")
    rid = roles.items[0]["metadata"]["name"]
    r = await cloud.client.put(f"/v3/projects/{other.project_id}/users/{alice.user_id}/roles/"
                               f"{rid}", headers={"X-Auth-Token": admin.token})
    assert r.status_code == 204
    c = await browser(cloud, alice)
    page = await c.get("/console/")
    token = c.cookies["kumo_session"]
    target = other.project_id
    assert target in page.text
    r = await c.post("/console/project", data={"csrf": csrf_of(page.text), "project_id": target})
    assert r.status_code == 303
    ctx = await cloud.rt.tokens.validate(c.cookies["kumo_session"])
    assert ctx.project_id == target
    old = await cloud.client.get("/console/", headers={"Cookie": f"kumo_session={token}"})
    assert old.status_code == 303  # the previous project's token was revoked
