"""Bulk create (``{"networks": [...]}``, ports, subnets): all or nothing.

Each item goes through the single-object handler (same checks, same IPAM);
if one fails, the ones already made are deleted through the delete handler and
the first error is returned, so a bulk request never leaves half its objects.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from ...common import parse_json, read_body
from ...errors import ApiError
from .errors import bad_request

Handler = Callable[[Request], Awaitable[Response]]


def _request(request: Request, body: bytes, *, method: str = "POST",
             path_params: dict[str, Any] | None = None) -> Request:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = dict(request.scope)
    scope["method"] = method
    if path_params is not None:
        scope["path_params"] = path_params
    return Request(scope, receive)


def bulk(create: Handler, delete: Handler, singular: str, plural: str, id_param: str
         ) -> Handler:
    async def endpoint(request: Request) -> Response:
        raw = await read_body(request)  # 413 while streaming, never an unbounded buffer
        try:
            data = parse_json(raw)
        except ApiError as exc:
            raise bad_request(exc.message) from exc
        if not (isinstance(data, dict) and plural in data and singular not in data):
            return await create(_request(request, raw))
        items = data[plural]
        if not isinstance(items, list) or not items or len(data) != 1:
            raise bad_request(f"Invalid input: '{plural}' must be a non-empty list")
        made: list[dict[str, Any]] = []
        try:
            for item in items:
                resp = await create(_request(request, json.dumps({singular: item}).encode()))
                made.append(json.loads(bytes(resp.body))[singular])
        except BaseException:
            for obj in reversed(made):
                try:
                    await delete(_request(request, b"", method="DELETE",
                                          path_params={id_param: obj["id"]}))
                except Exception:  # best effort: the first error is what the caller needs
                    pass
            raise
        return JSONResponse({plural: made}, status_code=201)

    return endpoint

