"""Keystone credentials (``/v3/credentials``) and their EC2 view (``OS-EC2``).

A credential is a blob its user keeps in Keystone (EC2 access/secret pairs, TOTP seeds,
certificates). Keystone returns the blob to its owner and to admins, so it cannot be a
hash; it is stored as given, in a ``Credential`` object readable only by admins on the
native API. An EC2 credential's id is the SHA-256 of its access key, as in Keystone, so
``/users/{id}/credentials/OS-EC2/{access}`` finds it by name.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from pydantic import Field, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import identity as m

from ...auth import AuthContext, authenticate
from ...common import read_json
from ...errors import ApiError
from ...runtime import runtime
from . import body as b
from .resources import self_or_admin
from .views import collection, get_obj, links, save

Obj = dict[str, Any]


class CredentialBody(b.Loose):
    blob: StrictStr = Field(min_length=1, max_length=65535)
    type: StrictStr = Field(min_length=1, max_length=255)
    user_id: StrictStr
    project_id: StrictStr | None = None


class CredentialPatch(b.Loose):
    blob: StrictStr | None = Field(default=None, min_length=1, max_length=65535)
    type: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    user_id: StrictStr | None = None
    project_id: StrictStr | None = None


def _view(request: Request, o: Obj) -> Obj:
    s, cid = o["spec"], o["metadata"]["name"]
    return {"id": cid, "user_id": s.get("userId", ""), "project_id": s.get("projectId"),
            "type": s.get("type", ""), "blob": s.get("blob", ""), "links": links(request, f"credentials/{cid}")}


def _may(ctx: AuthContext, o: Obj) -> bool:
    return ctx.is_admin or o["spec"].get("userId") == ctx.user_id


def _cred_id(kind: str, blob: str) -> str:
    """Keystone's id for an EC2 credential: sha256 of its access key."""
    if kind == "ec2":
        try:
            access = json.loads(blob).get("access")
        except (ValueError, AttributeError) as exc:
            raise ApiError(400, "Invalid blob in credential: an EC2 blob is a JSON object "
                                "with 'access'.") from exc
        if not isinstance(access, str) or not access:
            raise ApiError(400, "Invalid blob in credential: 'access' is required.")
        return hashlib.sha256(access.encode()).hexdigest()
    return m.new_id()


async def _store(request: Request, spec: Obj) -> Obj:
    cid = _cred_id(spec["type"], spec["blob"])
    try:
        return await runtime(request).objects.create(m.obj(
            m.CREDENTIAL, cid, spec, {"user": spec["userId"]}))
    except store.AlreadyExists as exc:
        raise ApiError(409, "Conflict occurred attempting to store credential - Duplicate "
                            "ID.") from exc


async def credentials(request: Request) -> Response:
    ctx = await authenticate(request)
    rt = runtime(request)
    if request.method == "POST":
        c = b.parse(CredentialBody, await read_json(request), "credential")
        if c.user_id != ctx.user_id and not ctx.is_admin:
            raise ApiError(403, "You are not authorized to perform the requested action.")
        await get_obj(request, m.USER, c.user_id, "user")
        if c.type == "ec2" and not c.project_id:
            raise ApiError(400, "Invalid input for field 'project_id': required for ec2.")
        obj = await _store(request, {"userId": c.user_id, "projectId": c.project_id,
                                     "type": c.type, "blob": c.blob})
        return JSONResponse({"credential": _view(request, obj)}, status_code=201)
    q = request.query_params
    uid = q.get("user_id") if ctx.is_admin else ctx.user_id
    items = (await rt.objects.list(m.CREDENTIAL, "", label_selector=(
        f"user={uid}" if uid else None))).items
    if q.get("type"):
        items = [i for i in items if i["spec"].get("type") == q["type"]]
    return collection(request, "credentials", [_view(request, i) for i in items])


async def credential(request: Request) -> Response:
    ctx = await authenticate(request)
    rt = runtime(request)
    cid = request.path_params["id"]
    obj = await rt.objects.try_get(m.CREDENTIAL, "", cid)
    if obj is None or not _may(ctx, obj):
        raise ApiError(404, f"Could not find credential: {cid}.")
    if request.method == "GET":
        return JSONResponse({"credential": _view(request, obj)})
    if request.method == "DELETE":
        await rt.objects.delete(m.CREDENTIAL, "", cid)
        return Response(status_code=204)
    c = b.parse(CredentialPatch, await read_json(request), "credential")
    if c.user_id is not None and c.user_id != obj["spec"]["userId"] and not ctx.is_admin:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    for src, dst in (("blob", "blob"), ("type", "type"), ("user_id", "userId"),
                     ("project_id", "projectId")):
        if getattr(c, src) is not None:
            obj["spec"][dst] = getattr(c, src)
    if obj["spec"]["type"] == "ec2":
        _cred_id("ec2", obj["spec"]["blob"])  # still a valid EC2 blob (the id stays)
    obj["metadata"]["labels"]["user"] = obj["spec"]["userId"]
    return JSONResponse({"credential": _view(request, await save(rt, obj))})


# ---- OS-EC2 --------------------------------------------------------------------------
def _ec2_view(request: Request, o: Obj) -> Obj:
    s = o["spec"]
    blob = json.loads(s["blob"])
    uid = s["userId"]
    return {"user_id": uid, "tenant_id": s.get("projectId"), "access": blob.get("access"),
            "secret": blob.get("secret"), "trust_id": blob.get("trust_id"),
            "links": links(request, f"users/{uid}/credentials/OS-EC2/{blob.get('access')}")}


async def _ec2_owner(request: Request) -> str:
    uid = await self_or_admin(request)
    await get_obj(request, m.USER, uid, "user")
    return uid


async def ec2_credentials(request: Request) -> Response:
    uid = await _ec2_owner(request)
    rt = runtime(request)
    if request.method == "POST":
        body = await read_json(request)
        pid = body.get("tenant_id") or body.get("project_id")
        if not isinstance(pid, str) or not pid:
            raise ApiError(400, "Invalid input for field 'tenant_id': required.")
        await get_obj(request, m.PROJECT, pid, "project")
        blob = json.dumps({"access": secrets.token_hex(16), "secret": secrets.token_hex(16),
                           "trust_id": None})
        obj = await _store(request, {"userId": uid, "projectId": pid, "type": "ec2",
                                     "blob": blob})
        return JSONResponse({"credential": _ec2_view(request, obj)}, status_code=201)
    items = (await rt.objects.list(m.CREDENTIAL, "", label_selector=f"user={uid}")).items
    return collection(request, "credentials", [_ec2_view(request, i) for i in items
                                               if i["spec"].get("type") == "ec2"])


async def ec2_credential(request: Request) -> Response:
    uid = await _ec2_owner(request)
    rt = runtime(request)
    access = request.path_params["access"]
    cid = hashlib.sha256(access.encode()).hexdigest()
    obj = await rt.objects.try_get(m.CREDENTIAL, "", cid)
    if obj is None or obj["spec"].get("userId") != uid or obj["spec"].get("type") != "ec2":
        raise ApiError(404, f"Could not find credential: {cid}.")
    if request.method == "DELETE":
        await rt.objects.delete(m.CREDENTIAL, "", cid)
        return Response(status_code=204)
    return JSONResponse({"credential": _ec2_view(request, obj)})
