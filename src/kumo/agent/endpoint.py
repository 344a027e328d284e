"""The standalone agent's own HTTP endpoint: ``/metrics`` and ``/debug/state``.

Bind it to a management address (loopback by default): it has no authentication,
like a node exporter, and tells only what this agent knows about itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kumo.observe import metrics


def build_app(state: Callable[[], dict[str, Any]]) -> Starlette:
    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def debug_state(request: Request) -> Response:
        return JSONResponse(state())

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/metrics", metrics_endpoint),
                             Route("/debug/state", debug_state), Route("/healthz", healthz)])


async def serve(listen: str, state: Callable[[], dict[str, Any]]) -> None:
    host, port = listen.rsplit(":", 1)
    server = uvicorn.Server(uvicorn.Config(build_app(state), host=host, port=int(port),
                                           log_config=None, access_log=False, lifespan="off"))
    await server.serve()
