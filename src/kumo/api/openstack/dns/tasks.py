"""/v2/zones/tasks/…: zone import and export (RFC 1035 files), transfer requests and
accepts. Imports and exports complete within the request (COMPLETE on return)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import dns as zones
from kumo.core import dns_io, dns_transfer
from kumo.core import errors as domain
from kumo.core.actor import Actor
from kumo.model import dns as dm

from ...common import parse_json, read_body
from ...errors import ApiError
from ...runtime import runtime
from .common import base_url, body_of, caller, iso, listing

Obj = dict[str, Any]
TASK_SORT = ("created_at", "id", "status")


def _view(request: Request, task: Obj, path: str) -> Obj:
    md, spec = task["metadata"], task["spec"]
    out = {"id": md["name"], "status": spec.get("status"), "zone_id": spec.get("zoneId"),
           "project_id": md["namespace"], "message": spec.get("message"),
           "created_at": iso(md.get("creationTimestamp")), "updated_at": None,
           "version": md.get("generation") or 1,
           "links": {"self": f"{base_url(request)}/v2/zones/tasks/{path}/{md['name']}"}}
    if spec["task"] == "export":
        out["location"] = f"designate://v2/zones/tasks/exports/{md['name']}/export"
        out["links"]["export"] = out["links"]["self"] + "/export"
    if spec["task"] in ("transfer_request", "transfer_accept"):
        out["key"] = spec.get("key")
    if spec["task"] == "transfer_request":
        out.update(zone_name=spec.get("zoneName"), description=spec.get("description"),
                   target_project_id=spec.get("targetProjectId"))
    if spec["task"] == "transfer_accept":
        out["zone_transfer_request_id"] = spec.get("requestId")
        out["links"]["zone"] = f"{base_url(request)}/v2/zones/{spec.get('zoneId')}"
    return out


async def _tasks(request: Request, task: str, path: str, key: str) -> Response:
    c = await caller(request)
    ns = None if c.all_projects else c.actor.project_id
    rows = [_view(request, t, path) for t in (await runtime(request).objects.list(
        dm.DNS_TASK, ns)).items if t["spec"]["task"] == task]
    return listing(request, rows, key, ("status", "zone_id", "message"), TASK_SORT)


async def _task(request: Request, task: str, path: str) -> tuple[Any, Obj]:
    c = await caller(request)
    tid = request.path_params["task_id"]
    found = None
    if c.actor.project_id:
        found = await runtime(request).objects.try_get(dm.DNS_TASK, c.actor.project_id, tid)
    if found is None and c.all_projects:
        found = next((t for t in (await runtime(request).objects.list(dm.DNS_TASK, None)).items
                      if t["metadata"]["name"] == tid), None)
    if found is None or found["spec"]["task"] != task:
        raise ApiError(404, f"Could not find {path[:-1]}", reason="not_found")
    return c, found


# ---- imports ---------------------------------------------------------------------------
async def import_create(request: Request) -> Response:
    c = await caller(request)
    c.actor.require_write("create_zone_import")
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        text = (await body_of(request)).get("zonefile")
    elif ctype.startswith("text/dns"):
        text = (await read_body(request)).decode("utf-8", "replace")
    else:
        raise ApiError(415, "zone imports are text/dns (or JSON with a zonefile)",
                       reason="unsupported_content_type")
    if not isinstance(text, str):
        raise ApiError(400, "a zone file is required", reason="invalid_object")
    objects = runtime(request).objects
    spec: Obj = {"task": "import", "status": "COMPLETE"}
    try:
        zone = await dns_io.import_zone(objects, c.actor, text)
        spec.update(zoneId=zone["metadata"]["name"], message="imported")
    except domain.DomainError as exc:  # Designate records the failure on the task
        spec.update(status="ERROR", message=exc.message)
    task = await objects.create(dns_transfer.task_object(c.actor.project_id or "",
                                                         str(uuid.uuid4()), spec))
    return JSONResponse(_view(request, task, "imports"), status_code=202)


async def import_index(request: Request) -> Response:
    return await _tasks(request, "import", "imports", "imports")


async def import_show(request: Request) -> Response:
    _, task = await _task(request, "import", "imports")
    return JSONResponse(_view(request, task, "imports"))


async def import_delete(request: Request) -> Response:
    return await _delete(request, "import", "imports")


async def export_delete(request: Request) -> Response:
    return await _delete(request, "export", "exports")


async def _delete(request: Request, kind: str, path: str) -> Response:
    c, task = await _task(request, kind, path)
    c.actor.require_write("delete_zone_task")
    await runtime(request).objects.delete(dm.DNS_TASK, task["metadata"]["namespace"],
                                          task["metadata"]["name"])
    return Response(status_code=204)


# ---- exports ---------------------------------------------------------------------------
async def export_create(request: Request) -> Response:
    c = await caller(request)
    objects = runtime(request).objects
    zone = await zones.get_zone(objects, c.actor, request.path_params["zone_id"])
    c.actor.require_write("create_zone_export")
    task = await objects.create(dns_transfer.task_object(
        zone["metadata"]["namespace"], str(uuid.uuid4()),
        {"task": "export", "status": "COMPLETE", "zoneId": zone["metadata"]["name"]}))
    view = _view(request, task, "exports")
    view["status"] = "PENDING"  # Designate's accepted-task answer; a GET shows COMPLETE
    return JSONResponse(view, status_code=202)


async def export_index(request: Request) -> Response:
    return await _tasks(request, "export", "exports", "exports")


async def export_show(request: Request) -> Response:
    _, task = await _task(request, "export", "exports")
    return JSONResponse(_view(request, task, "exports"))


async def export_file(request: Request) -> Response:
    accept = request.headers.get("accept", "text/dns")
    if not any(t in accept for t in ("text/dns", "*/*")):
        raise ApiError(406, "zone files are served as text/dns", reason="not_acceptable")
    c, task = await _task(request, "export", "exports")
    objects = runtime(request).objects
    zone = await zones.get_zone(objects, c.actor, task["spec"]["zoneId"])
    return Response(await dns_io.export_zone(objects, zone), media_type="text/dns")


# ---- transfers -------------------------------------------------------------------------
async def request_create(request: Request) -> Response:
    c = await caller(request)
    objects = runtime(request).objects
    zone = await zones.get_zone(objects, c.actor, request.path_params["zone_id"])
    raw = await read_body(request)
    body = parse_json(raw, require_object=False) if raw.strip() else {}
    body = body if isinstance(body, dict) else {}
    task = await dns_transfer.create_request(objects, c.actor, zone, body)
    return JSONResponse(_view(request, task, "transfer_requests"), status_code=201)


async def request_index(request: Request) -> Response:
    c = await caller(request)
    rows = [_view(request, t, "transfer_requests")
            for t in (await runtime(request).objects.list(dm.DNS_TASK, None)).items
            if t["spec"]["task"] == "transfer_request" and t["spec"]["status"] == "ACTIVE"
            and (c.all_projects or c.actor.sees(t["metadata"]["namespace"])
                 or t["spec"].get("targetProjectId") == c.actor.project_id)]
    return listing(request, rows, "transfer_requests", ("status",), TASK_SORT)


async def request_show(request: Request) -> Response:
    c = await caller(request)
    actor = c.actor  # an admin may look at any request (Designate's policy), keys aside
    if c.admin:
        actor = Actor(actor.project_id, actor.user_id, True, actor.can_write)
    task = await dns_transfer.find_request(runtime(request).objects, actor,
                                           request.path_params["task_id"])
    view = _view(request, task, "transfer_requests")
    if not c.actor.sees(task["metadata"]["namespace"]):
        view.pop("key")  # the key is the owner's to hand over
    return JSONResponse(view)


async def _own_request(request: Request, rule: str) -> Obj:
    """A transfer request the caller's project made (others see it, but only its owner
    changes it: 404 to them), with write permission for ``rule``."""
    c = await caller(request)
    task = await dns_transfer.find_request(runtime(request).objects, c.actor,
                                           request.path_params["task_id"])
    if not c.actor.sees(task["metadata"]["namespace"]):
        raise ApiError(404, "Could not find ZoneTransferRequest", reason="not_found")
    c.actor.require_write(rule)
    return task


async def request_update(request: Request) -> Response:
    task = await _own_request(request, "update_zone_transfer_request")
    body = await body_of(request)
    change = {field: body[k] for k, field in (("description", "description"),
                                              ("target_project_id", "targetProjectId"))
              if k in body}
    task = await runtime(request).objects.mutate(
        dm.DNS_TASK, task["metadata"]["namespace"], task["metadata"]["name"],
        lambda cur: cur["spec"].update(change))
    return JSONResponse(_view(request, task, "transfer_requests"))


async def request_delete(request: Request) -> Response:
    task = await _own_request(request, "delete_zone_transfer_request")
    await runtime(request).objects.delete(dm.DNS_TASK, task["metadata"]["namespace"], task["metadata"]["name"])
    return Response(status_code=204)


async def accept_create(request: Request) -> Response:
    c = await caller(request)
    task = await dns_transfer.accept(runtime(request).objects, c.actor, await body_of(request))
    return JSONResponse(_view(request, task, "transfer_accepts"), status_code=201)


async def accept_index(request: Request) -> Response:
    return await _tasks(request, "transfer_accept", "transfer_accepts", "transfer_accepts")


async def accept_show(request: Request) -> Response:
    _, task = await _task(request, "transfer_accept", "transfer_accepts")
    return JSONResponse(_view(request, task, "transfer_accepts"))
