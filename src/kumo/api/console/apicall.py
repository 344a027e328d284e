"""Calls to kumo's own APIs, in-process: the console's one way to act.

The request reaches the very app the official clients reach (same routing, policy,
quotas, admission and error format), with the browser's token and source address (so
per-source login limits count the browser, not the console).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from starlette.requests import Request

NOVA = {"OpenStack-API-Version": "compute 2.100"}
SEGMENT = re.compile(r"[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}")


class ApiFailed(Exception):
    """The API refused: its status and its own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def segment(value: str) -> str:
    """A path parameter fit to be put in an API path (no dot segments, no escapes)."""
    if not SEGMENT.fullmatch(value):
        raise ApiFailed(404, f"No such object {value[:40]!r}.")
    return value


def message_of(r: httpx.Response) -> str:
    """The human message of any of kumo's error formats (Nova, Neutron, Keystone, Status)."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:500] or r.reason_phrase
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return body["message"]
        for v in body.values():
            if isinstance(v, dict) and isinstance(v.get("message"), str):
                return v["message"]
    return r.reason_phrase


async def call(request: Request, method: str, path: str, token: str | None, *,
               json: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    app = request.app.state.api
    client = request.client
    transport = httpx.ASGITransport(app=app, client=(client.host, client.port) if client
                                    else ("127.0.0.1", 0))
    hdrs = dict(headers or {})
    if path.startswith("/compute"):
        hdrs = {**NOVA, **hdrs}
    if token:
        hdrs["X-Auth-Token"] = token
    rid = request.scope.get("kumo.request_id")
    if rid:
        hdrs["X-Openstack-Request-Id"] = rid
    async with httpx.AsyncClient(transport=transport, base_url="http://kumo",
                                 timeout=60) as c:
        return await c.request(method, path, json=json, headers=hdrs)


async def ok(request: Request, method: str, path: str, token: str | None, **kw: Any) -> Any:
    """The parsed answer of a call that must succeed, else ``ApiFailed``."""
    r = await call(request, method, path, token, **kw)
    if r.status_code >= 400:
        raise ApiFailed(r.status_code, message_of(r))
    return r.json() if r.content else None
