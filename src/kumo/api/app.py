"""The API server's ASGI application: every service under one port.

``/`` and ``/v3`` Keystone, ``/apis`` the native API, ``/metrics`` Prometheus,
``/debug/state`` the process's internals (admin only), ``/healthz``. Later
facades mount beside them and register themselves in the service catalog.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kumo.model import registry
from kumo.observe import logging as klog
from kumo.observe import metrics

from . import diagnose, native
from .auth import authenticate
from .console import app as console
from .disconnect import GONE, CancelOnDisconnect
from .errors import handlers, keystone_body
from .runtime import Runtime, runtime

SERVICES = {"v3": "identity", "": "identity", "apis": "native", "metrics": "observe",
            "debug": "observe", "healthz": "observe", "image": "image", "compute": "compute",
            "network": "network", "metadata": "metadata", "diagnose": "diagnose",
            "dns": "dns", "console": "console", "load-balancer": "load-balancer"}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the one route label every path no route answers shares


def service_of(path: str) -> str:
    return SERVICES.get(path.strip("/").split("/", 1)[0], "other")


def route_template(routes: Sequence[BaseRoute], scope: Scope, prefix: str = "") -> str | None:
    """The template of the route answering ``scope`` (``/compute/v2.1/servers/{server_id}``).

    A metrics label must never be a raw path: every id (or a random path) would be a new,
    permanent series. The walk mirrors Starlette's matching (a method mismatch still
    names the route); a native plural known to the registry is kept, the rest of a path's
    values become their parameter names.
    """
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        path = getattr(route, "path", "")
        if isinstance(route, Mount):
            inner = route_template(route.routes, {**scope, **child}, prefix + path)
            if inner is not None:
                return inner
            continue
        if match is Match.FULL:
            return _named(prefix + path, child.get("path_params", {}))
        partial = partial or _named(prefix + path, child.get("path_params", {}))
    return partial


def _named(template: str, params: dict[str, Any]) -> str:
    plural = params.get("plural")
    if isinstance(plural, str) and registry.by_plural(plural) is not None:
        template = template.replace("{plural}", plural)
    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", template)


class ObservabilityMiddleware:
    """Request id (echoed as X-Openstack-Request-Id), metrics and the shared runtime."""

    def __init__(self, app: Starlette, rt: Runtime) -> None:
        self.app = app  # the route tables, for whoever walks them (metrics, the authz matrix)
        self.routes = app.routes
        self.chain = CancelOnDisconnect(app)
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.chain(scope, receive, send)
            return
        scope["kumo"] = self.rt
        req_id = None
        for k, v in scope["headers"]:
            if k == b"x-openstack-request-id":
                req_id = v.decode("latin-1")[:64]
                break
        req_id = req_id or f"req-{uuid.uuid4()}"
        token = klog.request_id.set(req_id)
        scope["kumo.request_id"] = req_id
        method = scope["method"] if scope["method"] in _METHODS else "other"
        bare = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", ""),
                "method": scope["method"]}  # routing rewrites scope; match on the original
        status = 500
        start = time.perf_counter()
        metrics.IN_FLIGHT.inc()

        async def send_wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-openstack-request-id", req_id.encode()),
                                      (b"x-compute-request-id", req_id.encode())]
            await send(message)

        try:
            await self.chain(scope, receive, send_wrapped)
        finally:
            metrics.IN_FLIGHT.dec()
            svc = service_of(scope["path"])
            route = route_template(self.routes, bare) or UNMATCHED
            code = "499" if scope.get(GONE) else str(status)
            metrics.REQUESTS.labels(svc, route, method, code).inc()
            metrics.REQUEST_LATENCY.labels(svc, route, method).observe(time.perf_counter() - start)
            klog.request_id.reset(token)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text: admin or the service user only (it names projects' resources)."""
    ctx = await authenticate(request)
    ctx.require_admin()
    return open_metrics(request)


def open_metrics(request: Request) -> Response:
    refresh_store_gauges(runtime(request))
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


def refresh_store_gauges(rt: Runtime) -> None:
    stats = rt.objects.backend.stats()
    metrics.STORE_REVISION.set(stats.get("revision", 0))
    metrics.STORE_COMPACT_REVISION.set(stats.get("compact_revision", 0))
    metrics.STORE_WATCHERS.set(stats.get("watchers", 0))
    metrics.STORE_WRITE_QUEUE.set(stats.get("queued_writes", 0))


async def debug_state(request: Request) -> Response:
    ctx = await authenticate(request)
    ctx.require_admin()
    rt = runtime(request)
    state: dict[str, Any] = {
        "uptime_seconds": round(time.time() - rt.started_at, 3),
        "config": {"listen": rt.config.listen, "base_url": rt.config.base_url,
                   "data_dir": str(rt.config.data_dir), "region": rt.config.region},
        "store": rt.objects.backend.stats(),
        "tokens": {"cache_entries": len(rt.tokens._cache), "generation": rt.tokens.generation,
                   "ttl_seconds": rt.tokens.ttl},
        "catalog": [s.type for s in rt.catalog],
    }
    for name, provider in rt.debug_providers.items():
        state[name] = provider()
    return JSONResponse(state)


def root(versions: Any) -> Any:
    """``/``: Keystone's version document, or the console for a browser (which asks for
    HTML and not JSON; every OpenStack client asks for JSON)."""
    async def endpoint(request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "text/html" in accept and "json" not in accept:
            return RedirectResponse("/console/", status_code=303)
        return await versions(request)
    return endpoint


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def build_app(rt: Runtime) -> ASGIApp:
    from .openstack.compute import app as compute
    from .openstack.dns import app as dns
    from .openstack.identity import app as identity
    from .openstack.image import app as image
    from .openstack.loadbalancer import app as loadbalancer
    from .openstack.metadata import app as metadata
    from .openstack.network import app as network

    web = console.build_app()
    routes = [
        Route("/", root(identity.versions)),
        Route("/metrics", metrics_endpoint),
        Route("/debug/state", debug_state),
        Route("/healthz", healthz),
        Route("/apis", native.api_groups),
        Mount("/apis", app=native.build_app()),
        Mount("/v3", app=identity.build_app()),
        Mount("/image", app=image.build_app()),
        Mount("/compute", app=compute.build_app()),
        Mount("/metadata", app=metadata.build_app()),
        Mount("/network", app=network.build_app()),
        Mount("/load-balancer", app=loadbalancer.build_app()),
        Mount("/diagnose", app=diagnose.build_app()),
        Mount("/dns", app=dns.build_app()),
        Mount("/console", app=web),
    ]
    app = Starlette(routes=routes, exception_handlers=handlers(keystone_body))
    outer = ObservabilityMiddleware(app, rt)
    web.state.api = outer  # the console calls the APIs through the same front door
    return outer


def build_metrics_app(rt: Runtime) -> ASGIApp:
    """The scrape listener of ``Config.metrics_listen``: ``/metrics`` without a token."""
    app = Starlette(routes=[Route("/metrics", open_metrics), Route("/healthz", healthz)])

    async def with_runtime(scope: Scope, receive: Receive, send: Send) -> None:
        scope["kumo"] = rt
        await app(scope, receive, send)

    return with_runtime
