"""Operator pages (admin role): hosts with capacity and agent health, doctor findings
and the store's health (``/debug/state``).

Both read the admin-only APIs with the session's token, so a member is refused by the
same rule that refuses ``kumo doctor`` (``admission.admit_diagnosis``) — also by URL."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from . import apicall
from .render import handler, page
from .session import context, session_token

NATIVE = "/apis/kumo.io/v1"


@handler
async def hosts(request: Request) -> Response:
    ctx = await context(request)
    token = session_token(request)
    if not ctx.is_admin:  # the API would refuse too; say so before listing anything
        raise apicall.ApiFailed(403, "The operator pages need the admin role.")
    hyps = (await apicall.ok(request, "GET", "/compute/v2.1/os-hypervisors/detail",
                             token, headers={"OpenStack-API-Version": "compute 2.87"}))
    agents = (await apicall.ok(request, "GET", "/network/v2.0/agents", token))["agents"]
    return page(request, "hosts.html", ctx, here="hosts", hypervisors=hyps["hypervisors"],
                agents=agents)


@handler
async def doctor(request: Request) -> Response:
    ctx = await context(request)
    token = session_token(request)
    report = await apicall.ok(request, "GET", "/diagnose/v1/doctor", token)
    state = await apicall.ok(request, "GET", "/debug/state", token)
    return page(request, "doctor.html", ctx, here="doctor", report=report,
                store=state.get("store") or {}, uptime=state.get("uptime_seconds"))
