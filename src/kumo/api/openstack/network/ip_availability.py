"""Network IP availability: /v2.0/network-ip-availabilities (admins, as Neutron's
default policy) — figures from kumo.core.ip_availability."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import ip_availability as core
from kumo.model import network as nm

from ...runtime import runtime
from .common import Caller, caller, find_network
from .errors import policy
from .lists import by_creation, list_response, shown


def _admin(c: Caller) -> None:
    if not c.is_admin:
        raise policy("get_network_ip_availability")


async def index(request: Request) -> Response:
    c = await caller(request)
    _admin(c)
    rt = runtime(request)
    nets = by_creation((await rt.objects.list(nm.NETWORK, None)).items)
    views = await core.availability(rt.objects, nets)
    versions = request.query_params.getlist("ip_version")
    if versions:  # a network matches when one of its subnets has the version
        views = [v for v in views if any(str(s["ip_version"]) in versions
                                         for s in v["subnet_ip_availability"])]
    return JSONResponse(list_response(request, "network_ip_availabilities", views,
                                      skip=("ip_version",)))


async def show(request: Request) -> Response:
    c = await caller(request)
    _admin(c)
    rt = runtime(request)
    net = await find_network(rt, c, request.path_params["network_id"])
    view = (await core.availability(rt.objects, [net]))[0]
    return shown(request, "network_ip_availability", view)
