"""Request helpers shared by every facade: bounded JSON bodies, query parsing."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from kumo.core.actor import Actor

from .auth import AuthContext
from .errors import ApiError
from .runtime import runtime


async def read_body(request: Request) -> bytes:
    """The body, or 413 when it exceeds the configured limit (checked while streaming)."""
    limit = runtime(request).config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"Request body is larger than the limit of {limit} bytes.",
                       reason="RequestEntityTooLarge")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"Request body is larger than the limit of {limit} bytes.",
                           reason="RequestEntityTooLarge")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, *, require_object: bool = True) -> Any:
    """Parsed JSON body, or 400 with a message saying what is wrong."""
    raw = await read_body(request)
    if not raw.strip():
        raise ApiError(400, "The request body is empty; a JSON document is required.",
                       reason="BadRequest")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Malformed JSON in request body: {exc}", reason="BadRequest") from exc
    if require_object and not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", reason="BadRequest")
    return data


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return raw.lower() in ("1", "true", "yes", "on", "")


def actor_of(ctx: AuthContext) -> Actor:
    """The domain's view of a token: project, user, admin, may it write."""
    return Actor(ctx.project_id, ctx.user_id, ctx.is_admin, ctx.can_write)
