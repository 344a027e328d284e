"""``/v2.0/agents``: Neutron's agent list, derived from Hosts and their Leases; and
``/v2.0/service-providers``.

Every kumo host agent is at once Neutron's L2 agent (bridges, VXLAN,
l2population), DHCP agent and metadata agent, so each Host shows as those
three, alive while its Lease is fresh. Admins see them; others get an empty
list, as Neutron's policy gives them.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import compute as cm

from ...runtime import runtime
from .common import caller
from .errors import err
from .lists import list_response

Obj = dict[str, Any]
_NS = uuid.UUID("0b7f9f7e-51a4-4f0a-9a0e-7d5c2b8f2a11")
KINDS = (("Linux bridge agent", "neutron-linuxbridge-agent", None),
         ("DHCP agent", "neutron-dhcp-agent", None),
         ("Metadata agent", "neutron-metadata-agent", None))


def _agents(hosts: list[Obj], leases: dict[str, Obj]) -> list[Obj]:
    out = []
    for h in hosts:
        name = h["metadata"]["name"]
        st = h.get("status") or {}
        for agent_type, binary, _ in KINDS:
            conf: Obj = {}
            if agent_type == "Linux bridge agent":
                conf = {"tunnel_types": ["vxlan"], "l2_population": True,
                        "tunneling_ip": st.get("vtepIp")}
            out.append({
                "id": str(uuid.uuid5(_NS, f"{name}/{binary}")), "agent_type": agent_type,
                "binary": binary, "host": name, "topic": "N/A",
                "alive": cm.lease_alive(leases.get(name)),
                "admin_state_up": (h.get("spec") or {}).get("enabled", True),
                "availability_zone": (h.get("spec") or {}).get("availabilityZone") or "nova",
                "configurations": conf, "created_at": h["metadata"].get("creationTimestamp"),
                "started_at": st.get("startedAt"), "heartbeat_timestamp": (
                    leases.get(name) or {}).get("spec", {}).get("renewTime"),
                "description": None, "resources_synced": None})
    return out


async def _all(request: Request) -> list[Obj]:
    objects = runtime(request).objects
    hosts = (await objects.list(cm.HOST)).items
    leases = {le["metadata"]["name"]: le for le in (await objects.list(cm.LEASE)).items}
    return _agents(hosts, leases)


async def index(request: Request) -> Response:
    c = await caller(request)
    if not c.is_admin:
        return JSONResponse({"agents": []})
    agents = await _all(request)
    for key in ("host", "agent_type", "binary"):
        want = request.query_params.getlist(key)
        if want:
            agents = [a for a in agents if a[key] in want]
    return JSONResponse({"agents": agents})


async def show(request: Request) -> Response:
    c = await caller(request)
    aid = request.path_params["agent_id"]
    found = [a for a in await _all(request) if a["id"] == aid] if c.is_admin else []
    if not found:
        raise err(404, "AgentNotFound", f"Agent {aid} could not be found.")
    return JSONResponse({"agent": found[0]})


# the service plugins behind Neutron's service-type extension: routers, by kumo's router
# scheduler and agents (load balancing is Octavia's own API, as in Neutron since Train)
SERVICE_PROVIDERS = [{"service_type": "L3_ROUTER_NAT", "name": "kumo", "default": True}]


async def service_providers(request: Request) -> Response:
    """``/v2.0/service-providers`` (any token), filtered like every list."""
    await caller(request)
    views = [dict(p) for p in SERVICE_PROVIDERS]
    return JSONResponse(list_response(request, "service_providers", views))
