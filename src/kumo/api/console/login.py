"""Log in (Keystone password → project-scoped token), switch project, log out (revoke)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from . import apicall
from .forms import posted
from .render import handler, page
from .session import (
    PRELOGIN,
    SESSION,
    clear,
    context,
    prelogin_token,
    session_token,
    set_cookie,
)

MAX_FIELD = 255


@handler
async def login_form(request: Request) -> Response:
    csrf = prelogin_token(request)
    resp = page(request, "login.html", None, csrf=csrf, here="login", error=None, form={})
    set_cookie(request, resp, PRELOGIN, csrf)
    return resp


async def _issue(request: Request, auth: dict[str, Any]) -> str:
    """A new token from Keystone's face; the console never reads its catalog."""
    r = await apicall.call(request, "POST", "/v3/auth/tokens?nocatalog", None,
                           json={"auth": auth})
    if r.status_code >= 400:
        raise apicall.ApiFailed(r.status_code, apicall.message_of(r))
    return r.headers["x-subject-token"]


async def _password_token(request: Request, form: dict[str, str]) -> str:
    ident = {"methods": ["password"], "password": {"user": {
        "name": form["user"], "password": form["password"],
        "domain": {"name": form["domain"] or "Default"}}}}
    return await _issue(request, {"identity": ident})


async def scoped(request: Request, token: str, project_id: str | None) -> str:
    """A token for ``project_id`` (the first of the user's projects when None)."""
    if project_id is None:
        projects = (await apicall.ok(request, "GET", "/v3/auth/projects", token))["projects"]
        if not projects:
            return token
        project_id = sorted(projects, key=lambda p: p["name"])[0]["id"]
    return await _issue(request, {"identity": {"methods": ["token"], "token": {"id": token}},
                                  "scope": {"project": {"id": project_id}}})


def _fields(raw: Any) -> dict[str, str]:
    return {k: str(raw.get(k) or "")[:MAX_FIELD + 1] for k in ("domain", "user", "password")}


@handler
async def login(request: Request) -> Response:
    raw = await posted(request)
    form = _fields(raw)
    try:
        if not form["user"] or not form["password"]:
            raise apicall.ApiFailed(400, "User name and password are required.")
        unscoped = await _password_token(request, form)
        token = await scoped(request, unscoped, None)
        if token != unscoped:  # only the session's token stays valid
            await apicall.call(request, "DELETE", "/v3/auth/tokens", token,
                               headers={"X-Subject-Token": unscoped})
    except apicall.ApiFailed as exc:
        return page(request, "login.html", None, status=exc.status, here="login",
                    csrf=prelogin_token(request), error=exc.message,
                    form={"domain": form["domain"], "user": form["user"]})
    resp = RedirectResponse("/console/", status_code=303)
    set_cookie(request, resp, SESSION, token)
    resp.delete_cookie(PRELOGIN, path="/console")
    return resp


@handler
async def switch_project(request: Request) -> Response:
    raw = await posted(request)
    await context(request)
    token = session_token(request) or ""
    new = await scoped(request, token, str(raw.get("project_id") or "")[:64])
    await apicall.call(request, "DELETE", "/v3/auth/tokens", new,
                       headers={"X-Subject-Token": token})  # the old project's token ends
    resp = RedirectResponse("/console/", status_code=303)
    set_cookie(request, resp, SESSION, new)
    return resp


@handler
async def logout(request: Request) -> Response:
    await posted(request)
    token = session_token(request)
    if token:  # the API revokes it: the cookie is useless even if it were copied
        await apicall.call(request, "DELETE", "/v3/auth/tokens", token,
                           headers={"X-Subject-Token": token})
    resp = RedirectResponse("/console/login", status_code=303)
    clear(resp)
    return resp
