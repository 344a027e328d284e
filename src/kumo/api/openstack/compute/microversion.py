"""Nova microversions: negotiate per request, echo the answer on every response.

The client asks with ``OpenStack-API-Version: compute 2.x`` (or the legacy
``X-OpenStack-Nova-API-Version: 2.x``, or ``latest``); no header means the
minimum, 2.1. A version outside [MIN, MAX] is 406, a malformed one 400, both in
Nova's error format. Handlers read the negotiated version with ``version(request)``
and compare it with ``at_least(request, "2.47")``.

MAX is 2.100: the newest version openstacksdk's Server resource speaks (and so
what python-openstackclient negotiates for servers); every version up to it is
honoured for the features kumo has (see compute.py for what is not there).
"""

from __future__ import annotations

import json
import re

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...errors import ApiError, nova_body

Version = tuple[int, int]
MIN_VERSION: Version = (2, 1)
MAX_VERSION: Version = (2, 100)
SCOPE_KEY = "kumo.compute.version"
URL_PROJECT_KEY = "kumo.compute.url_project"
_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
_PROJECT_IN_URL = re.compile(r"^/v2\.1/([0-9a-fA-F]{32}|[0-9a-fA-F-]{36})(/.*)?$")


def vstr(v: Version) -> str:
    return f"{v[0]}.{v[1]}"


def parse(text: str) -> Version:
    """``"2.47"`` → (2, 47); 400 as Nova for anything else."""
    m = _VERSION.match(text.strip())
    if not m:
        raise ApiError(400, f"API Version String {text} is of invalid format. Must be of "
                            "format MajorNum.MinorNum.")
    return int(m.group(1)), int(m.group(2))


def requested(headers: dict[str, str]) -> str | None:
    """The compute version the headers ask for (service-typed header first)."""
    raw = headers.get("openstack-api-version")
    if raw:
        for part in raw.split(","):
            words = part.strip().split()
            if len(words) == 2 and words[0].lower() == "compute":
                return words[1]
    return headers.get("x-openstack-nova-api-version")


def negotiate(headers: dict[str, str]) -> Version:
    wanted = requested(headers)
    if wanted is None:
        return MIN_VERSION
    if wanted.strip().lower() == "latest":
        return MAX_VERSION
    v = parse(wanted)
    if not MIN_VERSION <= v <= MAX_VERSION:
        raise ApiError(406, f"Version {vstr(v)} is not supported by the API. Minimum is "
                            f"{vstr(MIN_VERSION)} and maximum is {vstr(MAX_VERSION)}.")
    return v


def version(request: Request) -> Version:
    return request.scope.get(SCOPE_KEY, MIN_VERSION)


def at_least(request: Request, wanted: str) -> bool:
    major, minor = wanted.split(".")
    return version(request) >= (int(major), int(minor))


def version_headers(v: Version) -> list[tuple[bytes, bytes]]:
    return [(b"openstack-api-version", f"compute {vstr(v)}".encode()),
            (b"x-openstack-nova-api-version", vstr(v).encode()),
            (b"vary", b"OpenStack-API-Version"),
            (b"vary", b"X-OpenStack-Nova-API-Version")]


class MicroversionMiddleware:
    """Negotiates the version for /v2.1 requests and stamps the response headers.

    Also accepts Nova's legacy URLs with the project id after /v2.1 (rewritten
    away here; handlers check it matches the token's project).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        path = scope["path"][len(root):] if scope["path"].startswith(root) else scope["path"]
        if not path.startswith("/v2.1/") or path.rstrip("/") == "/v2.1":
            await self.app(scope, receive, send)
            return
        m = _PROJECT_IN_URL.match(path)
        if m:
            scope[URL_PROJECT_KEY] = m.group(1)
            rest = m.group(2) or ""
            scope["path"] = root + "/v2.1" + rest
            scope["raw_path"] = scope["path"].encode()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        try:
            v = negotiate(headers)
        except ApiError as err:
            await _send_error(send, err)
            return
        scope[SCOPE_KEY] = v
        extra = version_headers(v)

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_wrapped)


async def _send_error(send: Send, err: ApiError) -> None:
    body = json.dumps(nova_body(err)).encode()
    await send({"type": "http.response.start", "status": err.status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *version_headers(MIN_VERSION)]})
    await send({"type": "http.response.body", "body": body})
