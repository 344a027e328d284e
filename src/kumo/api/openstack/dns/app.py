"""Designate v2, the DNS service: a face over DnsZone and DnsRecordSet objects.

Mounted at ``/dns`` (catalog: type "dns", name "designate"). It holds no state: the
rules are ``kumo.core.dns`` (zones) and ``kumo.core.dns_records`` (recordsets); the
zone-transfer source and the status controller are ``kumo.control.dns*``. Errors render
as Designate's ``{"code", "type", "message", "request_id"}``.

    zones.py       /v2/zones
    recordsets.py  /v2/zones/{id}/recordsets, /v2/recordsets
    reverse.py     /v2/reverse/floatingips (PTRs of floating IPs)
    admin.py       quotas, pools, service statuses
    common.py      caller (sudo, all_projects), errors, filters, sorting, pages
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kumo.core import errors as domain

from ...errors import ApiError, handlers
from . import admin, catalogs, recordsets, reverse, shares, tasks, zones
from .common import base_url, designate_body, from_domain


def _versions(request: Request) -> dict[str, Any]:
    href = base_url(request) + "/v2"
    return {"versions": {"values": [{"id": "v2", "status": "CURRENT",
                                     "links": [{"href": href, "rel": "self"}]}]}}


async def versions(request: Request) -> Response:
    return JSONResponse(_versions(request))


async def v2_root(request: Request) -> Response:
    href = base_url(request) + "/v2"
    return JSONResponse({"version": {"id": "v2", "status": "CURRENT",
                                     "links": [{"href": href, "rel": "self"}]}})


UUID_PARAMS = ("zone_id", "recordset_id", "task_id", "item_id", "share_id", "pool_id")
ITEM_NAMES = {"tlds": "tld_id", "tsigkeys": "tsigkey_id", "blacklists": "blacklist_id",
              "imports": "zone_import_id", "exports": "zone_export_id",
              "transfer_requests": "transfer_request_id",
              "transfer_accepts": "transfer_accept_id"}


def checked(handler: Any) -> Any:
    """400 ``invalid_uuid`` for a path id that is no UUID (Designate's schema check)."""
    async def run(request: Request) -> Response:
        for name in UUID_PARAMS:
            value = request.path_params.get(name)
            if value is not None:
                try:
                    uuid.UUID(value)
                except ValueError:
                    parts = request.url.path.rstrip("/").split("/")
                    shown = ITEM_NAMES.get(parts[-2], name) if name in (
                        "item_id", "task_id") else name
                    raise ApiError(400, f"Invalid UUID {shown}: {value}",
                                   reason="invalid_uuid") from None
        return await handler(request)

    return run


def _handlers() -> dict[Any, Any]:
    hs = handlers(designate_body)
    render = hs[ApiError]

    def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, domain.DomainError)
        return render(request, from_domain(exc))

    hs[domain.DomainError] = domain_error
    return hs


def _task_routes() -> list[Route]:
    """Imports, exports, transfer requests and accepts (Designate's zone tasks)."""
    t, tk = tasks, "/v2/zones/tasks"
    return [
        Route(f"{tk}/imports", t.import_index, methods=["GET"]),
        Route(f"{tk}/imports", t.import_create, methods=["POST"]),
        Route(f"{tk}/imports/{{task_id}}", t.import_show, methods=["GET"]),
        Route(f"{tk}/imports/{{task_id}}", t.import_delete, methods=["DELETE"]),
        Route(f"{tk}/exports/{{task_id}}", t.export_delete, methods=["DELETE"]),
        Route(f"{tk}/exports", t.export_index, methods=["GET"]),
        Route(f"{tk}/exports/{{task_id}}", t.export_show, methods=["GET"]),
        Route(f"{tk}/exports/{{task_id}}/export", t.export_file, methods=["GET"]),
        Route(f"{tk}/transfer_requests", t.request_index, methods=["GET"]),
        Route(f"{tk}/transfer_requests/{{task_id}}", t.request_show, methods=["GET"]),
        Route(f"{tk}/transfer_requests/{{task_id}}", t.request_update, methods=["PATCH"]),
        Route(f"{tk}/transfer_requests/{{task_id}}", t.request_delete, methods=["DELETE"]),
        Route(f"{tk}/transfer_accepts", t.accept_index, methods=["GET"]),
        Route(f"{tk}/transfer_accepts", t.accept_create, methods=["POST"]),
        Route(f"{tk}/transfer_accepts/{{task_id}}", t.accept_show, methods=["GET"]),
        Route("/v2/zones/{zone_id}/tasks/export", t.export_create, methods=["POST"]),
        Route("/v2/zones/{zone_id}/tasks/transfer_requests", t.request_create,
              methods=["POST"]),
    ]


def build_app() -> Starlette:
    z, r = zones, recordsets
    routes = [
        Route("/", versions),
        Route("/v2", v2_root),
        Route("/v2/", v2_root),
        *_task_routes(),
        Route("/v2/zones", z.index, methods=["GET"]),
        Route("/v2/zones", z.create, methods=["POST"]),
        Route("/v2/zones/{zone_id}", z.show, methods=["GET"]),
        Route("/v2/zones/{zone_id}", z.update, methods=["PATCH"]),
        Route("/v2/zones/{zone_id}", z.delete, methods=["DELETE"]),
        Route("/v2/zones/{zone_id}/nameservers", z.nameservers, methods=["GET"]),
        Route("/v2/zones/{zone_id}/shares", shares.index, methods=["GET"]),
        Route("/v2/zones/{zone_id}/shares", shares.create, methods=["POST"]),
        Route("/v2/zones/{zone_id}/shares/{share_id}", shares.show, methods=["GET"]),
        Route("/v2/zones/{zone_id}/shares/{share_id}", shares.delete, methods=["DELETE"]),
        Route("/v2/zones/{zone_id}/recordsets", r.index, methods=["GET"]),
        Route("/v2/zones/{zone_id}/recordsets", r.create, methods=["POST"]),
        Route("/v2/zones/{zone_id}/recordsets/{recordset_id}", r.show, methods=["GET"]),
        Route("/v2/zones/{zone_id}/recordsets/{recordset_id}", r.update, methods=["PUT"]),
        Route("/v2/zones/{zone_id}/recordsets/{recordset_id}", r.delete, methods=["DELETE"]),
        Route("/v2/recordsets", r.index_all, methods=["GET"]),
        Route("/v2/reverse/floatingips", reverse.index, methods=["GET"]),
        Route("/v2/reverse/floatingips/{fip_key}", reverse.show, methods=["GET"]),
        Route("/v2/reverse/floatingips/{fip_key}", reverse.update, methods=["PATCH"]),
        Route("/v2/recordsets/{recordset_id}", r.show_any, methods=["GET"]),
        Route("/v2/limits", admin.limits, methods=["GET"]),
        Route("/v2/quotas", admin.quota_own, methods=["GET"]),
        Route("/v2/pools/{pool_id}", admin.pool_show, methods=["GET"]),
        Route("/v2/service_statuses/{status_id}", admin.service_status, methods=["GET"]),
        Route("/v2/quotas/{project_id}", admin.quota_show, methods=["GET"]),
        Route("/v2/quotas/{project_id}", admin.quota_update, methods=["PATCH"]),
        Route("/v2/quotas/{project_id}", admin.quota_reset, methods=["DELETE"]),
        Route("/v2/pools", admin.pools, methods=["GET"]),
        *(r for p in catalogs.PATHS for r in (
            Route(f"/v2/{p}", catalogs.index, methods=["GET"]),
            Route(f"/v2/{p}", catalogs.create, methods=["POST"]),
            Route(f"/v2/{p}/{{item_id}}", catalogs.show, methods=["GET"]),
            Route(f"/v2/{p}/{{item_id}}", catalogs.update, methods=["PATCH"]),
            Route(f"/v2/{p}/{{item_id}}", catalogs.delete, methods=["DELETE"]))),
        Route("/v2/service_statuses", admin.service_statuses, methods=["GET"]),
    ]
    routes = [Route(r.path, checked(r.endpoint),
                    methods=[m for m in r.methods or () if m != "HEAD"])
              if "_id}" in r.path else r for r in routes]
    return Starlette(routes=routes, exception_handlers=_handlers())
