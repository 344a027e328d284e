"""The console's routes (mounted at ``/console``; ``/`` sends browsers here)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import create, login, operator, resources, servers
from .render import error_page


async def not_found(request: Request, exc: Exception) -> Response:
    return error_page(request, 404, "There is no such page in the console.")


def build_app() -> Starlette:
    post = ["POST"]
    return Starlette(routes=[
        Route("/", resources.overview),
        Route("/login", login.login_form),
        Route("/login", login.login, methods=post),
        Route("/logout", login.logout, methods=post),
        Route("/project", login.switch_project, methods=post),
        Route("/servers", servers.servers),
        Route("/servers", create.create_server, methods=post),
        Route("/servers/new", create.new_server),
        Route("/servers/{server_id}", servers.server),
        Route("/servers/{server_id}/action", servers.action, methods=post),
        Route("/list/{collection}", resources.collection),
        Route("/networks", create.create_network, methods=post),
        Route("/images", resources.images),
        Route("/keypairs", resources.keypairs),
        Route("/trace/{kind}/{object_id}", resources.timeline),
        Route("/admin/hosts", operator.hosts),
        Route("/admin/doctor", operator.doctor),
    ], middleware=[Middleware(GZipMiddleware, minimum_size=1024)],  # never the SSE stream
        exception_handlers={404: not_found})
