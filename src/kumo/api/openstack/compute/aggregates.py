"""Host aggregates, read-only: one per availability zone other than the default.

In Nova a zone is an aggregate with ``availability_zone`` metadata; kumo keeps
the zone in Host.spec.availabilityZone, so the aggregates are derived from the
hosts (clients such as ``openstack hypervisor show`` list them). Managing
aggregates through this API is not supported.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import compute as cm

from ...runtime import runtime
from .common import caller, microtime, not_found, require_admin
from .lookup import DEFAULT_AZ, host_zone
from .microversion import at_least

AGGREGATE_NS = uuid.UUID("4d1b3c2a-7a55-5e0f-8f0e-6b756d6f6167")
Obj = dict[str, Any]


def _aggregates(request: Request, hosts: list[Obj]) -> list[Obj]:
    zones: dict[str, list[Obj]] = {}
    for h in hosts:
        zone = host_zone(h)
        if zone != DEFAULT_AZ:
            zones.setdefault(zone, []).append(h)
    out = []
    for zone, members in sorted(zones.items()):
        agg_uuid = str(uuid.uuid5(AGGREGATE_NS, zone))
        created = min(h["metadata"].get("creationTimestamp") or "" for h in members)
        agg: Obj = {"id": int(agg_uuid.replace("-", "")[:7], 16), "name": zone,
                    "availability_zone": zone,
                    "hosts": sorted(h["metadata"]["name"] for h in members),
                    "metadata": {"availability_zone": zone}, "created_at": microtime(created),
                    "updated_at": None, "deleted": False, "deleted_at": None}
        if at_least(request, "2.41"):
            agg["uuid"] = agg_uuid
        out.append(agg)
    return out


async def index(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-aggregates:index")
    hosts = (await runtime(request).objects.list(cm.HOST)).items
    return JSONResponse({"aggregates": _aggregates(request, hosts)})


async def show(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-aggregates:show")
    wanted = request.path_params["aggregate_id"]
    hosts = (await runtime(request).objects.list(cm.HOST)).items
    for agg in _aggregates(request, hosts):
        if wanted in (str(agg["id"]), agg.get("uuid")):
            return JSONResponse({"aggregate": agg})
    raise not_found(f"Aggregate {wanted} could not be found.")
