"""Keystone v3 identity: the sub-application mounted at /v3, and version discovery."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import handlers, keystone_body
from ...runtime import runtime
from . import grants as g
from . import resources as r
from . import tokens as t

MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def _version(request: Request) -> dict[str, Any]:
    return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": runtime(request).config.base_url + "/v3/"}],
            "media-types": MEDIA}


async def versions(request: Request) -> Response:
    """GET / — Keystone's version list (300 Multiple Choices, as Keystone answers)."""
    return JSONResponse({"versions": {"values": [_version(request)]}}, status_code=300)


async def version(request: Request) -> Response:
    return JSONResponse({"version": _version(request)})


RW = ["GET", "POST"]
ONE = ["GET", "PATCH", "DELETE"]
GRANT = ["PUT", "GET", "HEAD", "DELETE"]


def build_app() -> Starlette:
    """The /v3 sub-application; every error is Keystone's ``{"error": {...}}``."""
    routes = [
        Route("/", version),
        Route("/auth/tokens", t.tokens, methods=["GET", "HEAD", "POST", "DELETE"]),
        Route("/auth/projects", t.auth_projects),
        Route("/auth/domains", t.auth_domains),
        Route("/auth/catalog", t.auth_catalog),
        Route("/auth/system", t.auth_system),
        Route("/domains", r.domains, methods=RW),
        Route("/domains/{id}", r.domain, methods=ONE),
        Route("/projects", r.projects, methods=RW),
        Route("/projects/{id}", r.project, methods=ONE),
        Route("/users", r.users, methods=RW),
        Route("/users/{id}", r.user, methods=ONE),
        Route("/users/{id}/password", r.user_password, methods=["POST"]),
        Route("/users/{id}/projects", r.user_projects),
        Route("/users/{id}/groups", r.user_groups),
        Route("/users/{id}/application_credentials", g.app_creds, methods=RW),
        Route("/users/{id}/application_credentials/{cred}", g.app_cred,
              methods=["GET", "DELETE"]),
        Route("/groups", r.groups, methods=RW),
        Route("/groups/{id}", r.group, methods=["GET", "DELETE"]),
        Route("/roles", r.roles, methods=RW),
        Route("/roles/{id}", r.role, methods=ONE),
        Route("/role_inferences", r.role_inferences),
        Route("/{scopes:str}/{scope}/{actors:str}/{actor}/roles", g.grants_list),
        Route("/{scopes:str}/{scope}/{actors:str}/{actor}/roles/{role}", g.grant,
              methods=GRANT),
        Route("/role_assignments", g.role_assignments),
        Route("/services", g.services, methods=RW),
        Route("/services/{id}", g.services),
        Route("/endpoints", g.endpoints, methods=RW),
        Route("/endpoints/{id}", g.endpoints),
        Route("/regions", g.regions),
        Route("/regions/{id}", g.regions),
    ]
    return Starlette(routes=routes, exception_handlers=handlers(keystone_body))
