"""Glance's interoperable image import (``/v2/info/import``, ``POST /v2/images/{id}/import``).

``glance-direct``: the data was staged with ``PUT /v2/images/{id}/stage`` (checksummed into
the blob store as it arrived, the image ``uploading``); the import makes it ``active``.
``web-download`` is listed because clients probe for it, but kumo reaches no outside
network, so every URI is refused the way Glance refuses one its import filter rejects
(400, synchronously) — the image stays ``queued``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...auth import authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from .access import load, mutate, require_write
from .model import bad, state, touch

METHODS = ("glance-direct", "web-download")
STORES = ("local",)


async def info_import(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse({"import-methods": {"description": "Import methods available.",
                                            "type": "array", "value": list(METHODS)}})


def _method(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    method = body.get("method")
    if not isinstance(method, dict) or not isinstance(method.get("name"), str):
        raise bad("Import request requires a 'method' with a 'name'.")
    if method["name"] not in METHODS:
        raise bad(f"Import method {method['name']} is not valid for this cloud. Valid "
                  f"values are: {', '.join(METHODS)}")
    stores = body.get("stores") or []
    if not isinstance(stores, list) or any(s not in STORES for s in stores):
        raise bad(f"Unknown store in {stores}; this cloud has: {', '.join(STORES)}.")
    return method["name"], method


async def import_image(request: Request) -> Response:
    image_id = request.path_params["image_id"]
    ctx, obj = await load(request, image_id)
    require_write(ctx, obj, "import")
    name, method = _method(await read_json(request))
    if name == "web-download":
        if state(obj) != "queued":
            raise ApiError(409, f"Image status transition from '{state(obj)}' to "
                                "'importing' is not allowed", reason="Conflict")
        raise bad(f"URI for web-download does not pass filtering: {method.get('uri')} "
                  "(this cloud reaches no outside network)")

    def imported(o: dict[str, Any]) -> None:
        if state(o) == "queued":
            raise ApiError(409, "Image needs to be staged before 'glance-direct' method can "
                                "be used", reason="Conflict")
        if state(o) != "uploading":
            raise ApiError(409, f"Image status transition from '{state(o)}' to 'importing' "
                                "is not allowed", reason="Conflict")
        o["status"]["state"] = "active"
        touch(o)

    await mutate(runtime(request).objects, image_id, imported)
    return Response(status_code=202)


# ---- tasks (the legacy import API, admin only as in Glance's default policy) ----------
async def _task_admin(request: Request) -> None:
    ctx = await authenticate(request)
    if not ctx.is_admin:
        raise ApiError(403, "You are not authorized to access the tasks API.",
                       reason="Forbidden")


async def tasks(request: Request) -> Response:
    """GET lists no tasks (kumo never keeps one); POST refuses what it cannot run: an
    ``import`` task fetches ``import_from`` over the network, which kumo does not reach."""
    await _task_admin(request)
    if request.method == "GET":
        return JSONResponse({"tasks": [], "first": "/v2/tasks", "schema": "/v2/schemas/tasks"})
    body = await read_json(request)
    if body.get("type") != "import":
        raise bad(f"Invalid type value: {body.get('type')}. Supported: import.")
    task_input = body.get("input")
    if not isinstance(task_input, dict) or not isinstance(task_input.get("import_from"), str):
        raise bad("Input does not contain 'import_from' field")
    raise bad(f"URI for import_from does not pass filtering: {task_input['import_from']} "
              "(this cloud reaches no outside network)")


async def task(request: Request) -> Response:
    await _task_admin(request)
    raise ApiError(404, f"Task with the given id {request.path_params['task_id']} not found",
                   reason="NotFound")
