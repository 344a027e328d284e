"""Octavia v2, the load-balancer service: a facade over LoadBalancer objects
(kumo.model.loadbalancer) and kumo.core.loadbalancers(_tree).

Mounted at ``/load-balancer`` (catalog: type "load-balancer", name "octavia"); every
route answers under ``/v2`` and ``/v2.0`` (python-octaviaclient appends the latter).
Errors render as ``{"faultcode", "faultstring", "debuginfo"}``.

    loadbalancers.py  load balancers, /stats, /status
    listeners.py      listeners and pools
    members.py        members (one and batch) and health monitors
    l7policies.py     L7 policies and their rules
    views.py, common.py, errors.py

Not there yet: flavors beyond listing, ACTIVE_STANDBY, amphorae.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kumo.core import quotas
from kumo.model import compute as cm
from kumo.model import loadbalancer as lbm

from ...runtime import runtime
from . import l7policies as l7
from . import listeners as lis
from . import loadbalancers as lbs
from . import members as mem
from .common import actor, body, to_int
from .errors import octavia_handlers

Obj = dict[str, Any]
QUOTA_KEYS = {"load_balancer": "load_balancer", "loadbalancer": "load_balancer",
              "listener": "listener", "pool": "pool", "member": "member",
              "health_monitor": "health_monitor", "healthmonitor": "health_monitor"}


def _root(request: Request) -> str:
    return runtime(request).config.base_url.rstrip("/") + "/load-balancer"


async def versions(request: Request) -> Response:
    link = [{"href": f"{_root(request)}/v2", "rel": "self"}]
    return JSONResponse({"versions": [
        {"id": "v2.0", "status": "SUPPORTED", "updated": "2016-12-11T00:00:00Z",
         "links": link},
        {"id": "v2.27", "status": "CURRENT", "updated": "2023-05-05T00:00:00Z",
         "links": link}]})


async def providers(request: Request) -> Response:
    await actor(request)
    return JSONResponse({"providers": [
        {"name": lbm.PROVIDER, "description": "kumo: HAProxy in a network namespace on a "
                                              "kumo host (no amphora VM)"}]})


async def flavors(request: Request) -> Response:
    await actor(request)
    return JSONResponse({"flavors": [], "flavors_links": []})


async def _limits(request: Request, project: str) -> Obj:
    found = await runtime(request).objects.try_get(cm.QUOTA_SET, project, lbm.QUOTA_NAME)
    spec = (found or {}).get("spec") or {}
    used = await quotas.usage(runtime(request).objects, project, lbm.QUOTA_SERVICE)
    out = {k: int(spec.get(k, v)) for k, v in lbm.QUOTA_DEFAULTS.items()}
    out["in_use_load_balancer"] = used.get("load_balancer", 0)
    return out


async def quota_show(request: Request) -> Response:
    a = await actor(request)
    project = request.path_params["project_id"]
    if not a.sees(project):
        from kumo.core.errors import Forbidden

        raise Forbidden("Policy does not allow this request to be performed.", rule="quota")
    limits = await _limits(request, project)
    limits.pop("in_use_load_balancer")
    limits["loadbalancer"], limits["healthmonitor"] = limits["load_balancer"], \
        limits["health_monitor"]
    return JSONResponse({"quota": limits})


async def quota_defaults(request: Request) -> Response:
    await actor(request)
    return JSONResponse({"quota": dict(lbm.QUOTA_DEFAULTS)})


async def quota_update(request: Request) -> Response:
    a = await actor(request)
    a.require_admin("quota:put")
    project = request.path_params["project_id"]
    data = await body(request, "quota", QUOTA_KEYS)
    changes = {QUOTA_KEYS[k]: to_int(k, v, -1, 2**31 - 1) for k, v in data.items()
               if v is not None}
    objects = runtime(request).objects
    current = await objects.try_get(cm.QUOTA_SET, project, lbm.QUOTA_NAME)
    if current is None:
        await objects.create({"apiVersion": "kumo.io/v1", "kind": cm.QUOTA_SET,
                              "metadata": {"name": lbm.QUOTA_NAME, "namespace": project},
                              "spec": changes})
    else:
        await objects.mutate(cm.QUOTA_SET, project, lbm.QUOTA_NAME,
                             lambda o: o.setdefault("spec", {}).update(changes))
    return await quota_show(request)


def lbaas_routes(prefix: str) -> list[BaseRoute]:
    p = prefix + "/lbaas"
    one_lb, one_l = p + "/loadbalancers/{lb_id}", p + "/listeners/{listener_id}"
    one_p, one_h = p + "/pools/{pool_id}", p + "/healthmonitors/{hm_id}"
    one_m = one_p + "/members/{member_id}"
    one_7 = p + "/l7policies/{l7policy_id}"

    def crud(coll: str, one: str, index: Any, create: Any, show: Any, update: Any,
             delete: Any) -> list[BaseRoute]:
        return [Route(coll, index, methods=["GET"]), Route(coll, create, methods=["POST"]),
                Route(one, show, methods=["GET"]), Route(one, update, methods=["PUT"]),
                Route(one, delete, methods=["DELETE"])]

    return [
        *crud(p + "/loadbalancers", one_lb, lbs.index, lbs.create, lbs.show, lbs.update,
              lbs.delete),
        Route(one_lb + "/stats", lbs.stats, methods=["GET"]),
        Route(one_lb + "/status", lbs.status, methods=["GET"]),
        *crud(p + "/listeners", one_l, lis.listener_index, lis.listener_create,
              lis.listener_show, lis.listener_update, lis.listener_delete),
        Route(one_l + "/stats", lbs.listener_stats, methods=["GET"]),
        *crud(p + "/pools", one_p, lis.pool_index, lis.pool_create, lis.pool_show,
              lis.pool_update, lis.pool_delete),
        *crud(one_p + "/members", one_m, mem.member_index, mem.member_create,
              mem.member_show, mem.member_update, mem.member_delete),
        Route(one_p + "/members", mem.member_batch, methods=["PUT"]),
        *crud(p + "/healthmonitors", one_h, mem.hm_index, mem.hm_create, mem.hm_show,
              mem.hm_update, mem.hm_delete),
        *crud(p + "/l7policies", one_7, l7.policy_index, l7.policy_create, l7.policy_show,
              l7.policy_update, l7.policy_delete),
        *crud(one_7 + "/rules", one_7 + "/rules/{l7rule_id}", l7.rule_index, l7.rule_create,
              l7.rule_show, l7.rule_update, l7.rule_delete),
        Route(p + "/providers", providers, methods=["GET"]),
        Route(p + "/flavors", flavors, methods=["GET"]),
        Route(p + "/quotas/defaults", quota_defaults, methods=["GET"]),
        Route(p + "/quotas/{project_id}", quota_show, methods=["GET"]),
        Route(p + "/quotas/{project_id}", quota_update, methods=["PUT"]),
    ]


def build_app() -> Starlette:
    """The Octavia sub-application (mount it at /load-balancer)."""
    routes: list[BaseRoute] = [Route("/", versions, methods=["GET"])]
    routes += lbaas_routes("/v2") + lbaas_routes("/v2.0")
    return Starlette(routes=routes, exception_handlers=octavia_handlers())
