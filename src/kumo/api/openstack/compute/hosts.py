"""Hypervisors, services and availability zones, all read from Host and Lease objects.

A Host is a hypervisor and a nova-compute service: capacity and allocations
come from its status, up/down from the freshness of its Lease, enabled/disabled
and the zone from its spec (the only part an admin writes here). The control
plane shows as one nova-scheduler and one nova-conductor in the "internal" zone.
"""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import compute as cm

from ...errors import ApiError
from ...runtime import runtime
from .common import (
    bad,
    body_of,
    caller,
    conflict,
    index_and_detail,
    limit_marker,
    microtime,
    mutate,
    not_found,
    page,
    require_admin,
)
from .lookup import host_zone, is_uuid, zones_of
from .microversion import at_least
from .views import lease_alive

Obj = dict[str, Any]
CONTROL_NS = uuid.UUID("0c6d5d1e-6b2a-5f7e-9d3c-6b756d6f6e6f")
INTERNAL_AZ = "internal"


def int_id(uid: str) -> int:
    """A stable integer id (pre-2.53 microversions) derived from an object's uid."""
    return int(uid.replace("-", "")[:7] or "0", 16) + 10


def _control_host() -> str:
    return socket.gethostname().split(".")[0] or "kumo"


async def _hosts(request: Request) -> tuple[list[Obj], dict[str, Obj]]:
    objects = runtime(request).objects
    hosts = sorted((await objects.list(cm.HOST)).items, key=lambda h: h["metadata"]["name"])
    leases = {le["metadata"]["name"]: le for le in (await objects.list(cm.LEASE)).items}
    held = {a["metadata"]["name"]: cm.host_allocations(a)
            for a in (await objects.list(cm.HOST_ALLOCATION)).items}
    for h in hosts:  # the scheduler's claims live in HostAllocations; usage reads them here
        h.setdefault("status", {})["allocations"] = held.get(h["metadata"]["name"], {})
    return hosts, leases


def _renewed(lease: Obj | None) -> str | None:
    if lease is None:
        return None
    renew = float((lease.get("spec") or {}).get("renewTime", 0))
    return microtime(time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(renew)))


# ---- hypervisors -----------------------------------------------------------------
def _hv_id(request: Request, host: Obj) -> str | int:
    uid = host["metadata"].get("uid", "")
    return uid if at_least(request, "2.53") else int_id(uid)


def _usage(host: Obj) -> dict[str, int]:
    st = host.get("status") or {}
    cap = st.get("capacity") or {}
    allocs = (st.get("allocations") or {}).values()
    used = {"vcpus": sum(int(a.get("vcpus", 0)) for a in allocs),
            "ram": sum(int(a.get("memoryMb", 0)) for a in allocs),
            "disk": sum(int(a.get("diskGb", 0)) for a in allocs)}
    return {"vcpus": int(cap.get("vcpus", 0)), "memory_mb": int(cap.get("memoryMb", 0)),
            "local_gb": int(cap.get("diskGb", 0)), "vcpus_used": used["vcpus"],
            "memory_mb_used": used["ram"], "local_gb_used": used["disk"],
            "free_ram_mb": int(cap.get("memoryMb", 0)) - used["ram"],
            "free_disk_gb": int(cap.get("diskGb", 0)) - used["disk"],
            "current_workload": 0, "running_vms": len(allocs),
            "disk_available_least": int(cap.get("diskGb", 0)) - used["disk"]}


def _hypervisor(request: Request, host: Obj, lease: Obj | None, detail: bool,
                servers: list[Obj] | None) -> Obj:
    spec, st, name = host.get("spec") or {}, host.get("status") or {}, host["metadata"]["name"]
    out: Obj = {"id": _hv_id(request, host), "hypervisor_hostname": name,
                "state": "up" if lease_alive(lease) else "down",
                "status": "enabled" if spec.get("enabled", True) else "disabled"}
    if detail:
        out.update({"hypervisor_type": st.get("hypervisorType") or "QEMU",
                    "hypervisor_version": 1, "host_ip": st.get("vtepIp"),
                    "service": {"id": _hv_id(request, host), "host": name,
                                "disabled_reason": spec.get("disabledReason")}})
        if at_least(request, "2.88"):
            out["uptime"] = None
        else:
            out.update(_usage(host))
            out["cpu_info"] = {"arch": st.get("cpuArch", "x86_64")} \
                if at_least(request, "2.28") else "{}"
    if servers is not None:
        out["servers"] = [{"name": s["metadata"]["name"], "uuid": s["metadata"]["name"]}
                          for s in servers]
    return out


async def _hypervisors(request: Request, detail: bool) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-hypervisors:list")
    hosts, leases = await _hosts(request)
    q = request.query_params
    pattern = q.get("hypervisor_hostname_pattern") if at_least(request, "2.53") else None
    with_servers = at_least(request, "2.53") and q.get("with_servers", "").lower() in (
        "1", "true", "yes", "on")
    if pattern is not None:
        if "limit" in q or "marker" in q:
            raise bad("Paging over hypervisors with the hypervisor_hostname_pattern query "
                      "parameter is not supported.")
        hosts = [h for h in hosts if pattern in h["metadata"]["name"]]
        if not hosts:
            raise not_found(f"No hypervisor matching '{pattern}' could be found.")
    elif at_least(request, "2.33"):
        limit, marker = limit_marker(request)
        hosts = page(hosts, lambda h: str(_hv_id(request, h)), limit, marker)
    servers: dict[str, list[Obj]] = {}
    if with_servers:
        for s in (await runtime(request).objects.list(cm.SERVER)).items:
            if s["spec"].get("host"):
                servers.setdefault(s["spec"]["host"], []).append(s)
    return JSONResponse({"hypervisors": [
        _hypervisor(request, h, leases.get(h["metadata"]["name"]), detail,
                    servers.get(h["metadata"]["name"], []) if with_servers else None)
        for h in hosts]})


hypervisors, hypervisors_detail = index_and_detail(_hypervisors)


async def hypervisor_show(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-hypervisors:show")
    hid = request.path_params["hypervisor_id"]
    missing = not_found(f"Hypervisor with ID '{hid}' could not be found.")
    if at_least(request, "2.53") and not is_uuid(hid):
        raise bad(f"Invalid uuid {hid}")
    hosts, leases = await _hosts(request)
    host = next((h for h in hosts if str(_hv_id(request, h)) == hid), None)
    if host is None:
        raise missing
    return JSONResponse({"hypervisor": _hypervisor(
        request, host, leases.get(host["metadata"]["name"]), True, None)})


async def hypervisor_statistics(request: Request) -> Response:
    ctx = await caller(request)
    if at_least(request, "2.88"):
        raise not_found("The resource could not be found.")
    require_admin(ctx, "os_compute_api:os-hypervisors:statistics")
    hosts, _ = await _hosts(request)
    totals: dict[str, int] = {"count": len(hosts)}
    for h in hosts:
        for key, value in _usage(h).items():
            totals[key] = totals.get(key, 0) + value
    for key in _usage({"status": {}}):
        totals.setdefault(key, 0)
    return JSONResponse({"hypervisor_statistics": totals})


# ---- services ------------------------------------------------------------------
def _control_services(request: Request) -> list[Obj]:
    host, now = _control_host(), microtime(store.now_iso())
    out = []
    for i, binary in enumerate(("nova-scheduler", "nova-conductor"), start=1):
        sid: str | int = str(uuid.uuid5(CONTROL_NS, binary)) if at_least(request, "2.53") else i
        out.append({"binary": binary, "host": host, "id": sid, "zone": INTERNAL_AZ,
                    "status": "enabled", "state": "up", "updated_at": now,
                    "disabled_reason": None})
    return out


def _compute_service(request: Request, host: Obj, lease: Obj | None) -> Obj:
    spec = host.get("spec") or {}
    return {"binary": "nova-compute", "host": host["metadata"]["name"],
            "id": _hv_id(request, host), "zone": host_zone(host),
            "status": "enabled" if spec.get("enabled", True) else "disabled",
            "state": "up" if lease_alive(lease) else "down", "updated_at": _renewed(lease),
            "disabled_reason": spec.get("disabledReason")}


async def _services(request: Request) -> list[Obj]:
    hosts, leases = await _hosts(request)
    services = _control_services(request) + [
        _compute_service(request, h, leases.get(h["metadata"]["name"])) for h in hosts]
    if at_least(request, "2.11"):
        for s in services:
            s["forced_down"] = False
    return services


async def services(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-services:list")
    found = await _services(request)
    for key in ("host", "binary"):
        if request.query_params.get(key):
            found = [s for s in found if s[key] == request.query_params[key]]
    return JSONResponse({"services": found})


class ServiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = None
    disabled_reason: str | None = None
    forced_down: bool | None = None
    host: str | None = None
    binary: str | None = None


async def _set_enabled(request: Request, host_name: str, enabled: bool, reason: str | None
                       ) -> Obj:
    def change(obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec["enabled"] = enabled
        spec["disabledReason"] = None if enabled else reason

    return await mutate(runtime(request).objects, cm.HOST, "", host_name, change,
                        not_found(f"Host '{host_name}' could not be found."))


async def service_update(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-services:update")
    sid = request.path_params["service_id"]
    body = await body_of(request, ServiceUpdate, "service")
    if body.forced_down is not None:
        raise bad("forced_down is not supported: a host is down when its lease expires.")
    if not at_least(request, "2.53") or sid in ("enable", "disable", "disable-log-reason"):
        return await _legacy_update(request, sid, body)
    if not is_uuid(sid):
        raise bad(f"Invalid uuid {sid}")
    if body.host is not None or body.binary is not None:
        raise bad("Invalid input for field/attribute service. Value: {...}. Additional "
                  "properties are not allowed ('host' was unexpected)")
    found = next((s for s in await _services(request) if s["id"] == sid), None)
    if found is None:
        raise not_found(f"Service {sid} could not be found.")
    if found["binary"] != "nova-compute":
        raise bad(f"Updating a {found['binary']} service is not supported. Only nova-compute "
                  "services can be updated.")
    if body.status is None:
        raise bad("No updates were requested. Fields 'status' or 'forced_down' should be "
                  "specified.")
    if body.status not in ("enabled", "disabled"):
        raise bad(f"Invalid input for field/attribute status. Value: {body.status}. "
                  f"'{body.status}' is not one of ['enabled', 'disabled']")
    if body.status == "enabled" and body.disabled_reason:
        raise bad("Specifying 'disabled_reason' with status 'enabled' is invalid.")
    host = await _set_enabled(request, found["host"], body.status == "enabled",
                              body.disabled_reason)
    lease = await runtime(request).objects.try_get(cm.LEASE, "", found["host"])
    view = _compute_service(request, host, lease)
    view["forced_down"] = False
    return JSONResponse({"service": view})


async def _legacy_update(request: Request, action: str, body: ServiceUpdate) -> Response:
    if action not in ("enable", "disable", "disable-log-reason"):
        raise not_found("Unknown action")
    if not body.host or not body.binary:
        raise bad("Invalid input for field/attribute service. Value: {...}. 'host' and "
                  "'binary' are required properties")
    if action == "disable-log-reason" and not body.disabled_reason:
        raise bad("Missing disabled reason field")
    if body.binary != "nova-compute":
        raise bad(f"Updating a {body.binary} service is not supported. Only nova-compute "
                  "services can be updated.")
    enabled = action == "enable"
    reason = body.disabled_reason if action == "disable-log-reason" else None
    try:
        await _set_enabled(request, body.host, enabled, reason)
    except ApiError as exc:
        raise not_found(f"Host '{body.host}' could not be found.") from exc
    out: Obj = {"host": body.host, "binary": body.binary,
                "status": "enabled" if enabled else "disabled"}
    if reason:
        out["disabled_reason"] = reason
    return JSONResponse({"service": out})


async def service_delete(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-services:delete")
    sid = request.path_params["service_id"]
    if at_least(request, "2.53") and not is_uuid(sid):
        raise bad(f"Invalid uuid {sid}")
    found = next((s for s in await _services(request) if str(s["id"]) == sid), None)
    if found is None:
        raise not_found(f"Service {sid} not found.")
    if found["binary"] != "nova-compute":
        raise bad(f"Deleting a {found['binary']} service is not supported.")
    objects = runtime(request).objects
    hosted = [s for s in (await objects.list(cm.SERVER)).items
              if s["spec"].get("host") == found["host"]]
    if hosted:
        raise conflict("Unable to delete compute service that is hosting instances. Migrate "
                       "or delete the instances first.")
    for kind in (cm.HOST, cm.LEASE, cm.HOST_ALLOCATION):
        try:
            await objects.delete(kind, "", found["host"])
        except store.NotFound:
            pass
    return Response(status_code=204)


# ---- availability zones ----------------------------------------------------------
async def zones(request: Request) -> Response:
    await caller(request)
    hosts, _ = await _hosts(request)
    available, unavailable = zones_of(hosts)
    return JSONResponse({"availabilityZoneInfo": [
        {"zoneName": z, "zoneState": {"available": ok}, "hosts": None}
        for zs, ok in ((available, True), (unavailable, False)) for z in zs]})


async def zones_detail(request: Request) -> Response:
    ctx = await caller(request)
    require_admin(ctx, "os_compute_api:os-availability-zone:detail")
    hosts, leases = await _hosts(request)
    available, unavailable = zones_of(hosts)
    now = microtime(store.now_iso())
    control = {_control_host(): {b: {"available": True, "active": True, "updated_at": now}
                                 for b in ("nova-scheduler", "nova-conductor")}}
    info = [{"zoneName": INTERNAL_AZ, "zoneState": {"available": True}, "hosts": control}]
    for zone in available:
        members = {h["metadata"]["name"]: {"nova-compute": {
            "available": lease_alive(leases.get(h["metadata"]["name"])), "active": True,
            "updated_at": _renewed(leases.get(h["metadata"]["name"]))}}
            for h in hosts if host_zone(h) == zone and (h.get("spec") or {}).get("enabled", True)}
        info.append({"zoneName": zone, "zoneState": {"available": True}, "hosts": members})
    info += [{"zoneName": z, "zoneState": {"available": False}, "hosts": None}
             for z in unavailable]
    return JSONResponse({"availabilityZoneInfo": info})
