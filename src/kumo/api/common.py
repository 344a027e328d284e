"""Request helpers shared by every facade: bounded JSON bodies, query parsing."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from kumo.core.actor import Actor

from . import jsonbody
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
    """Parsed JSON body, or 400 with a message saying what is wrong (413 when too large)."""
    return parse_json(await read_body(request), require_object=require_object)


def parse_json(raw: bytes, *, require_object: bool = True) -> Any:
    """``raw`` through the one strict reader (``jsonbody``); 400 names the defect."""
    if not raw.strip():
        raise ApiError(400, "The request body is empty; a JSON document is required.",
                       reason="BadRequest")
    try:
        data = jsonbody.loads(raw)
    except jsonbody.BadJson as exc:
        raise ApiError(400, f"Malformed JSON in request body: {exc}", reason="BadRequest") from exc
    if require_object and not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", reason="BadRequest")
    return data


def query_int(request: Request, name: str, *, minimum: int = 0, maximum: int = 2**31,
              default: int | None = None) -> int | None:
    """An integer query parameter within [minimum, maximum]; 400 otherwise (never a 500
    from an oversized value reaching SQLite, never a negative limit reaching the store)."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    raw = raw.strip()
    if not raw.lstrip("-").isdigit() or not raw.isascii() or len(raw) > 20:
        raise ApiError(400, f"{name} must be an integer", reason="BadRequest")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}",
                       reason="BadRequest")
    return value


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return raw.lower() in ("1", "true", "yes", "on", "")


def actor_of(ctx: AuthContext) -> Actor:
    """The domain's view of a token: project, user, admin, may it write."""
    return Actor(ctx.project_id, ctx.user_id, ctx.is_admin, ctx.can_write)
