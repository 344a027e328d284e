"""Project tags (``/v3/projects/{id}/tags``): Keystone's rules, at most 80 per project,
1-255 characters, no '/' or ','."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import identity as m

from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from . import body as b
from .resources import admin
from .views import get_obj, project_view, save

_TAGS: TypeAdapter[list[str]] = TypeAdapter(b.Tags)


def _valid(tags: Any) -> list[str]:
    try:
        return _TAGS.validate_python(tags)
    except ValidationError as exc:
        raise ApiError(400, "Invalid input for field 'tags': at most 80 tags of 1-255 "
                            "characters without '/' or ','.") from exc


async def tags(request: Request) -> Response:
    """GET the list, PUT to replace it, DELETE to clear it."""
    await admin(request)
    rt = runtime(request)
    obj = await get_obj(request, m.PROJECT, request.path_params["id"], "project")
    if request.method == "GET":
        return JSONResponse({"tags": obj["spec"].get("tags", [])})
    new = [] if request.method == "DELETE" else _valid((await read_json(request)).get("tags"))
    obj["spec"]["tags"] = list(dict.fromkeys(new))
    obj = await save(rt, obj)
    if request.method == "DELETE":
        return Response(status_code=204)
    return JSONResponse({"tags": obj["spec"]["tags"], "project": project_view(request, obj)})


async def tag(request: Request) -> Response:
    """GET/HEAD: 204 if the project has the tag; PUT adds it (201); DELETE removes it."""
    await admin(request)
    rt = runtime(request)
    obj = await get_obj(request, m.PROJECT, request.path_params["id"], "project")
    name = request.path_params["tag"]
    have: list[str] = list(obj["spec"].get("tags", []))
    if request.method == "PUT":
        if name not in have:
            obj["spec"]["tags"] = _valid([*have, name])
            await save(rt, obj)
        return Response(status_code=201, headers={"Location": str(request.url)})
    if name not in have:
        raise ApiError(404, f"Could not find project tag: {name}.")
    if request.method == "DELETE":
        obj["spec"]["tags"] = [t for t in have if t != name]
        await save(rt, obj)
    return Response(status_code=204)
