"""The API server's ASGI application: every service under one port.

``/`` and ``/v3`` Keystone, ``/apis`` the native API, ``/metrics`` Prometheus,
``/debug/state`` the process's internals (admin only), ``/healthz``. Later
facades mount beside them and register themselves in the service catalog.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kumo.observe import logging as klog
from kumo.observe import metrics

from . import native
from .auth import authenticate
from .errors import handlers, keystone_body
from .runtime import Runtime, runtime

_ID = re.compile(r"^(?:[0-9a-f]{16,}|[0-9a-f-]{36}|\d+)$", re.I)
_NATIVE = re.compile(r"^/apis/kumo\.io/v1/(namespaces/[^/]+/)?([^/]+)(/[^/]+)?(/status)?$")


def service_of(path: str) -> str:
    first = path.strip("/").split("/", 1)[0]
    return {"v3": "identity", "": "identity", "apis": "native", "metrics": "observe",
            "debug": "observe", "healthz": "observe", "image": "image",
            "compute": "compute", "network": "network"}.get(first, first)


def route_of(path: str) -> str:
    """A low-cardinality label for a path: ids and names become placeholders."""
    m = _NATIVE.match(path)
    if m:
        ns = "namespaces/{ns}/" if m.group(1) else ""
        return f"/apis/kumo.io/v1/{ns}{m.group(2)}" + ("/{name}" if m.group(3) else "") + (
            m.group(4) or "")
    parts = ["{id}" if _ID.match(p) else p for p in path.split("/")]
    return "/".join(parts)[:120]


class ObservabilityMiddleware:
    """Request id (echoed as X-Openstack-Request-Id), metrics and the shared runtime."""

    def __init__(self, app: ASGIApp, rt: Runtime) -> None:
        self.app = app
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
        path = scope["path"]
        method = scope["method"]
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
            await self.app(scope, receive, send_wrapped)
        finally:
            metrics.IN_FLIGHT.dec()
            svc, route = service_of(path), route_of(path)
            metrics.REQUESTS.labels(svc, route, method, str(status)).inc()
            metrics.REQUEST_LATENCY.labels(svc, route, method).observe(time.perf_counter() - start)
            klog.request_id.reset(token)


async def metrics_endpoint(request: Request) -> Response:
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


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def build_app(rt: Runtime) -> ASGIApp:
    from .openstack.compute import app as compute
    from .openstack.identity import app as identity
    from .openstack.image import app as image
    from .openstack.metadata import app as metadata
    from .openstack.network import app as network

    routes = [
        Route("/", identity.versions),
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
    ]
    app = Starlette(routes=routes, exception_handlers=handlers(keystone_body))
    return ObservabilityMiddleware(app, rt)
