"""Pages: templates, the error page, and the one wrapper every handler shares.

The wrapper turns the console's three refusals into pages: no session → the login form
(303), a CSRF-less post → 403, an API refusal → the API's message with its status.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..auth import AuthContext
from ..errors import ApiError
from .apicall import ApiFailed
from .session import CsrfRefused, NoSession, csrf_for, masked, session_token

ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                  autoescape=select_autoescape(["html"]), auto_reload=False)
Handler = Callable[[Request], Awaitable[Response]]
NAV = [("overview", "/console/", "Overview"), ("servers", "/console/servers", "Servers"),
       ("networks", "/console/list/networks", "Networks"),
       ("subnets", "/console/list/subnets", "Subnets"), ("ports", "/console/list/ports", "Ports"),
       ("routers", "/console/list/routers", "Routers"),
       ("floatingips", "/console/list/floatingips", "Floating IPs"),
       ("security-groups", "/console/list/security-groups", "Security groups"),
       ("zones", "/console/list/zones", "DNS zones"),
       ("recordsets", "/console/list/recordsets", "DNS records"),
       ("images", "/console/images", "Images"), ("keypairs", "/console/keypairs", "Key pairs")]
ADMIN_NAV = [("hosts", "/console/admin/hosts", "Hosts"),
             ("doctor", "/console/admin/doctor", "Doctor")]


def page(request: Request, template: str, ctx: AuthContext | None, *, status: int = 200,
         **values: Any) -> HTMLResponse:
    tok = session_token(request) if ctx is not None else None
    html = ENV.get_template(template).render(
        ctx=ctx, csrf=masked(csrf_for(tok) if tok else values.pop("csrf", "")), nav=NAV,
        admin_nav=ADMIN_NAV if ctx is not None and ctx.is_admin else [], **values)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str,
               ctx: AuthContext | None = None) -> HTMLResponse:
    return page(request, "error.html", ctx, status=status, message=message, here="")


def handler(fn: Handler) -> Handler:
    @functools.wraps(fn)
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except NoSession:
            return RedirectResponse("/console/login", status_code=303)
        except CsrfRefused:
            return error_page(request, 403, "The form's CSRF token is missing or wrong; "
                                            "nothing was changed. Reload the page and retry.")
        except (ApiFailed, ApiError) as exc:
            return error_page(request, exc.status, exc.message,
                              request.scope.get("kumo.console.ctx"))
    return wrapped
