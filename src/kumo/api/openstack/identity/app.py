"""Keystone v3 identity: the sub-application mounted at /v3, and version discovery."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import handlers, keystone_body
from ...runtime import runtime
from . import access_rules as ar
from . import assignments as a
from . import catalog as c
from . import credentials as cr
from . import domain_config as dc
from . import endpoint_groups as ep
from . import grants as g
from . import implied as im
from . import policies as po
from . import resources as r
from . import self_service as ss
from . import tags as tg
from . import tokens as t
from . import trusts as tr

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
CONFIG = ["GET", "PUT", "PATCH", "DELETE"]
EPF = "/OS-EP-FILTER"


def build_app() -> Starlette:
    """The /v3 sub-application; every error is Keystone's ``{"error": {...}}``."""
    return Starlette(routes=_routes() + _more_routes(),
                     exception_handlers=handlers(keystone_body))


def _more_routes() -> list[Route]:
    """Trusts and the policy store."""
    return [
        Route("/OS-TRUST/trusts", tr.trusts, methods=RW),
        Route("/OS-TRUST/trusts/", tr.trusts, methods=RW),
        Route("/OS-TRUST/trusts/{id}", tr.trust, methods=["GET", "DELETE"]),
        Route("/OS-TRUST/trusts/{id}/roles", tr.trust_roles),
        Route("/OS-TRUST/trusts/{id}/roles/{role}", tr.trust_roles),
        Route(EPF + "/endpoint_groups", ep.endpoint_groups, methods=RW),
        Route(EPF + "/endpoint_groups/{id}", ep.endpoint_group,
              methods=["GET", "HEAD", "PATCH", "DELETE"]),
        Route(EPF + "/endpoint_groups/{id}/endpoints", ep.group_endpoints),
        Route(EPF + "/endpoint_groups/{id}/projects", ep.group_projects),
        Route(EPF + "/endpoint_groups/{id}/projects/{project}", ep.group_projects,
              methods=GRANT),
        Route(EPF + "/projects/{project}/endpoint_groups", ep.project_groups),
        Route("/policies", po.policies, methods=RW),
        Route("/policies/{id}", po.policy, methods=ONE),
    ]


def _routes() -> list[Route]:
    grants = "/{scopes:str}/{scope}/{actors:str}/{actor}/roles"
    inherit = "/OS-INHERIT" + grants
    return [
        Route("/", version),
        Route("/auth/tokens", t.tokens, methods=["GET", "HEAD", "POST", "DELETE"]),
        Route("/auth/projects", t.auth_projects),
        Route("/auth/domains", t.auth_domains),
        Route("/auth/catalog", t.auth_catalog),
        Route("/auth/system", t.auth_system),
        Route("/domains", r.domains, methods=RW),
        Route("/domains/{id}", r.domain, methods=ONE),
        Route("/domains/config/default", dc.default_config),
        Route("/domains/config/{group}/default", dc.default_config),
        Route("/domains/config/{group}/{option}/default", dc.default_config),
        Route("/domains/{id}/config", dc.domain_config, methods=CONFIG),
        Route("/domains/{id}/config/{group}", dc.domain_config, methods=CONFIG),
        Route("/domains/{id}/config/{group}/{option}", dc.domain_config, methods=CONFIG),
        Route("/projects", r.projects, methods=RW),
        Route("/projects/{id}", r.project, methods=ONE),
        Route("/projects/{id}/tags", tg.tags, methods=["GET", "PUT", "DELETE"]),
        Route("/projects/{id}/tags/{tag}", tg.tag, methods=["GET", "PUT", "DELETE"]),
        Route("/users", r.users, methods=RW),
        Route("/users/{id}", r.user, methods=ONE),
        Route("/users/{id}/password", ss.user_password, methods=["POST"]),
        Route("/users/{id}/projects", ss.user_projects),
        Route("/users/{id}/groups", a.user_groups),
        Route("/users/{id}/application_credentials", g.app_creds, methods=RW),
        Route("/users/{id}/application_credentials/{cred}", g.app_cred,
              methods=["GET", "DELETE"]),
        Route("/users/{id}/access_rules", ar.access_rules),
        Route("/users/{id}/access_rules/{rule}", ar.access_rule, methods=["GET", "DELETE"]),
        Route("/users/{id}/credentials/OS-EC2", cr.ec2_credentials, methods=RW),
        Route("/users/{id}/credentials/OS-EC2/{access}", cr.ec2_credential,
              methods=["GET", "DELETE"]),
        Route("/credentials", cr.credentials, methods=RW),
        Route("/credentials/{id}", cr.credential, methods=ONE),
        Route("/groups", r.groups, methods=RW),
        Route("/groups/{id}", r.group, methods=ONE),
        Route("/groups/{id}/users", a.group_users),
        Route("/groups/{id}/users/{user}", a.member, methods=GRANT),
        Route("/roles", r.roles, methods=RW),
        Route("/roles/{id}", r.role, methods=ONE),
        Route("/roles/{prior}/implies", im.implies),
        Route("/roles/{prior}/implies/{implied}", im.implied_role, methods=GRANT),
        Route("/role_inferences", im.role_inferences),
        Route("/system/{actors:str}/{actor}/roles", a.grants_list),
        Route("/system/{actors:str}/{actor}/roles/{role}", a.grant, methods=GRANT),
        Route(grants, a.grants_list),
        Route(grants + "/{role}", a.grant, methods=GRANT),
        Route(inherit + "/inherited_to_projects", a.grants_list),
        Route(inherit + "/{role}/inherited_to_projects", a.grant, methods=GRANT),
        Route("/role_assignments", a.role_assignments),
        Route("/services", c.services, methods=RW),
        Route("/services/{id}", c.service, methods=ONE),
        Route("/endpoints", c.endpoints, methods=RW),
        Route("/endpoints/{id}", c.endpoint, methods=ONE),
        Route("/regions", c.regions, methods=RW),
        Route("/regions/{id}", c.region, methods=["GET", "PUT", "PATCH", "DELETE"]),
    ]
