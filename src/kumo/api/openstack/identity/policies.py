"""Keystone's policy store (``/v3/policies``): opaque blobs kept for other services.

Keystone never evaluates these (its API is deprecated storage); neither does kumo, whose
rules live in code and in ``tests/authz``. Admins write and read them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import identity as m

from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from . import body as b
from .resources import admin
from .views import collection, get_obj, links, save

Obj = dict[str, Any]


class PolicyBody(b.Loose):
    blob: StrictStr = Field(max_length=65535)
    type: StrictStr = Field(min_length=1, max_length=255)


class PolicyPatch(b.Loose):
    blob: StrictStr | None = Field(default=None, max_length=65535)
    type: StrictStr | None = Field(default=None, min_length=1, max_length=255)


def _view(request: Request, o: Obj) -> Obj:
    s, pid = o["spec"], o["metadata"]["name"]
    return {"id": pid, "type": s.get("type", ""), "blob": s.get("blob", ""),
            "links": links(request, f"policies/{pid}")}


async def policies(request: Request) -> Response:
    await admin(request)
    rt = runtime(request)
    if request.method == "GET":
        items = (await rt.objects.list(m.POLICY, "")).items
        if "type" in request.query_params:
            items = [i for i in items if i["spec"].get("type") == request.query_params["type"]]
        return collection(request, "policies", [_view(request, i) for i in items])
    p = b.parse(PolicyBody, await read_json(request), "policy")
    obj = await rt.objects.create(m.obj(m.POLICY, m.new_id(), {"type": p.type,
                                                                "blob": p.blob}))
    return JSONResponse({"policy": _view(request, obj)}, status_code=201)


async def policy(request: Request) -> Response:
    await admin(request)
    rt = runtime(request)
    pid = request.path_params["id"]
    obj = await get_obj(request, m.POLICY, pid, "policy")
    if request.method == "GET":
        return JSONResponse({"policy": _view(request, obj)})
    if request.method == "DELETE":
        try:
            await rt.objects.delete(m.POLICY, "", pid)
        except store.NotFound as exc:
            raise ApiError(404, f"Could not find policy: {pid}.") from exc
        return Response(status_code=204)
    p = b.parse(PolicyPatch, await read_json(request), "policy")
    for field in ("type", "blob"):
        if getattr(p, field) is not None:
            obj["spec"][field] = getattr(p, field)
    return JSONResponse({"policy": _view(request, await save(rt, obj))})
