"""Server objects → Nova's server JSON, per microversion.

Status is what Nova computes from vm_state and task_state. The facade never
writes Server.status after create, so a spec change the agent has not acted on
yet is shown as the task Nova would have set at once (os-stop → powering-off,
reboot → rebooting, ...): the state checks of the next action see it too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from kumo.model import compute as cm

from ...auth import AuthContext
from ...runtime import runtime
from .common import (
    ANN_HOSTNAME,
    ANN_LAUNCH_INDEX,
    ANN_RESERVATION,
    ANN_UPDATED,
    bookmark,
    isotime,
    links,
    microtime,
    sanitize_hostname,
    server_user,
)
from .microversion import at_least

Obj = dict[str, Any]

STATE_MAP: dict[str, dict[str | None, str]] = {
    "active": {None: "ACTIVE", "rebooting": "REBOOT", "reboot_pending": "REBOOT",
               "reboot_started": "REBOOT", "rebooting_hard": "HARD_REBOOT",
               "reboot_pending_hard": "HARD_REBOOT", "reboot_started_hard": "HARD_REBOOT",
               "updating_password": "PASSWORD", "rebuilding": "REBUILD",
               "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD",
               "migrating": "MIGRATING", "resize_prep": "RESIZE",
               "resize_migrating": "RESIZE", "resize_migrated": "RESIZE",
               "resize_finish": "RESIZE"},
    "building": {None: "BUILD"},
    "stopped": {None: "SHUTOFF", "rebuilding": "REBUILD", "rebuild_spawning": "REBUILD",
                "rebuild_block_device_mapping": "REBUILD", "resize_prep": "RESIZE"},
    "paused": {None: "PAUSED", "migrating": "MIGRATING"},
    "suspended": {None: "SUSPENDED"},
    "rescued": {None: "RESCUE"},
    "resized": {None: "VERIFY_RESIZE", "resize_reverting": "REVERT_RESIZE"},
    "error": {None: "ERROR", "rebuilding": "REBUILD", "rebuild_spawning": "REBUILD"},
    "deleted": {None: "DELETED"},
    "soft-delete": {None: "SOFT_DELETED"},
    "shelved": {None: "SHELVED"},
    "shelved_offloaded": {None: "SHELVED_OFFLOADED"},
}
PROGRESS = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def status_from_state(vm_state: str, task_state: str | None) -> str:
    task_map = STATE_MAP.get(vm_state, {None: "UNKNOWN"})
    return task_map.get(task_state, task_map[None])


def states_for_status(status: str) -> set[tuple[str, str | None]]:
    """(vm_state, task_state) pairs a status filter matches; task None means 'any'."""
    wanted = status.upper()
    out: set[tuple[str, str | None]] = set()
    for vm, tasks in STATE_MAP.items():
        for task, shown in tasks.items():
            if shown == wanted:
                out.add((vm, task))
    return out


def pending_task(server: Obj, vm: str) -> str | None:
    """The task a not-yet-observed spec change stands for."""
    spec, st = server["spec"], server.get("status") or {}
    if cm.nonce(spec, "rebuild") > int(st.get("observedRebuildNonce", 0)):
        return "rebuilding"
    if cm.nonce(spec, "reboot") > int(st.get("observedRebootNonce", 0)):
        hard = str((spec.get("reboot") or {}).get("type", "SOFT")).upper() == "HARD"
        return "rebooting_hard" if hard else "rebooting"
    if cm.nonce(spec, "snapshot") > int(st.get("observedSnapshotNonce", 0)):
        return "image_snapshot"
    generation = int(server["metadata"].get("generation", 1))
    if generation <= int(st.get("observedGeneration", 0)):
        return None
    power = spec.get("power", "on")
    if power == "off" and vm in ("active", "paused"):
        return "powering-off"
    if power in ("on", "paused") and vm == "stopped":
        return "powering-on"
    if power == "paused" and vm == "active":
        return "pausing"
    if power == "on" and vm == "paused":
        return "unpausing"
    if power == "suspended" and vm == "active":
        return "suspending"
    if power == "on" and vm == "suspended":
        return "resuming"
    return None


def effective_state(server: Obj) -> tuple[str, str | None]:
    """(vm_state, task_state) as Nova would hold them right now."""
    st = server.get("status") or {}
    vm = st.get("vmState") or "building"
    task = st.get("taskState")
    if server["metadata"].get("deletionTimestamp"):
        return vm, "deleting"
    if task is None and vm not in ("building", "error"):
        task = pending_task(server, vm)
    return vm, task


def server_status(server: Obj) -> str:
    if server["metadata"].get("deletionTimestamp"):
        return "DELETED"
    return status_from_state(*effective_state(server))


def updated_at(server: Obj) -> str:
    md = server["metadata"]
    st = server.get("status") or {}
    stamps = [md.get("creationTimestamp"), (md.get("annotations") or {}).get(ANN_UPDATED),
              st.get("launchedAt"), (st.get("fault") or {}).get("created"),
              md.get("deletionTimestamp")]
    return max(s for s in stamps if s)


def host_id(project_id: str, host: str | None) -> str:
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


@dataclass
class ViewContext:
    """What rendering needs besides the server: caller, version, hosts and leases."""

    request: Request
    ctx: AuthContext
    hosts: dict[str, Obj] = field(default_factory=dict)
    leases: dict[str, Obj] = field(default_factory=dict)
    addresses: dict[str, Obj] = field(default_factory=dict)  # server id -> Nova addresses

    def at_least(self, v: str) -> bool:
        return at_least(self.request, v)

    def host_az(self, host: str | None) -> str | None:
        h = self.hosts.get(host or "")
        if h is None:
            return None
        return (h.get("spec") or {}).get("availabilityZone") or "nova"

    def host_status(self, host: str | None) -> str:
        if not host:
            return ""
        h = self.hosts.get(host)
        if h is None:
            return "UNKNOWN"
        if not (h.get("spec") or {}).get("enabled", True):
            return "MAINTENANCE"
        return "UP" if lease_alive(self.leases.get(host)) else "DOWN"


lease_alive = cm.lease_alive
FEW_HOSTS = 32  # up to this many hosts in a view are read one by one, beyond it listed


async def view_context(request: Request, ctx: AuthContext,
                       servers: list[Obj] | None = None) -> ViewContext:
    from .ports import addresses_for

    rt = runtime(request)
    objects = rt.objects
    names = {s["spec"].get("host") for s in servers or []} - {None, ""}
    if len(names) <= FEW_HOSTS:  # one server's view must not read every host of the cloud
        hosts = {n: h for n in names if (h := await objects.try_get(cm.HOST, "", n))}
        leases = {n: le for n in names if (le := await objects.try_get(cm.LEASE, "", n))}
    else:
        hosts = {h["metadata"]["name"]: h for h in (await objects.list(cm.HOST)).items}
        leases = {le["metadata"]["name"]: le for le in (await objects.list(cm.LEASE)).items}
    return ViewContext(request, ctx, hosts, leases, await addresses_for(rt, servers or []))


def basic(vc: ViewContext, server: Obj) -> Obj:
    sid = server["metadata"]["name"]
    return {"id": sid, "name": server["spec"].get("displayName", ""),
            "links": links(vc.request, "servers", sid)}


def _flavor(vc: ViewContext, spec: Obj) -> Obj:
    f = spec.get("flavor") or {}
    if vc.at_least("2.47"):
        return {"vcpus": f.get("vcpus"), "ram": f.get("ram"), "disk": f.get("disk"),
                "ephemeral": f.get("ephemeral", 0), "swap": f.get("swap", 0),
                "original_name": f.get("name"), "extra_specs": dict(f.get("extraSpecs") or {})}
    fid = str(f.get("id", ""))
    return {"id": fid, "links": bookmark(vc.request, "flavors", fid)}


def _image(vc: ViewContext, spec: Obj) -> Obj | str:
    img = spec.get("image") or {}
    if not img.get("id"):
        return ""
    out: Obj = {"id": img["id"], "links": bookmark(vc.request, "images", img["id"])}
    if vc.at_least("2.98"):
        out["properties"] = {k: v for k, v in (img.get("properties") or {}).items()
                             if v is not None}
    return out


def _fault(vc: ViewContext, fault: Obj | None) -> Obj | None:
    if not fault:
        return None
    out = {"code": int(fault.get("code", 500)), "created": isotime(fault.get("created")),
           "message": fault.get("message", "")}
    if fault.get("details") and (vc.ctx.is_admin or out["code"] != 500):
        out["details"] = fault["details"]
    return out


def show(vc: ViewContext, server: Obj, *, detail_list: bool = False,
         user_data: bool = True) -> Obj:
    """The detailed view (GET /servers/{id}, /servers/detail, PUT, rebuild)."""
    md, spec = server["metadata"], server["spec"]
    st = server.get("status") or {}
    ann = md.get("annotations") or {}
    sid, project = md["name"], md["namespace"]
    host = spec.get("host") or st.get("host")
    vm, task = effective_state(server)
    status = server_status(server)
    out: Obj = {
        "accessIPv4": "", "accessIPv6": "", "addresses": vc.addresses.get(sid, {}),
        "created": isotime(md.get("creationTimestamp")), "flavor": _flavor(vc, spec),
        "hostId": host_id(project, host), "id": sid, "image": _image(vc, spec),
        "links": links(vc.request, "servers", sid), "metadata": dict(spec.get("metadata") or {}),
        "name": spec.get("displayName", ""), "status": status, "tenant_id": project,
        "user_id": server_user(server), "updated": isotime(updated_at(server)),
        "OS-DCF:diskConfig": "MANUAL",
    }
    if status in ("ERROR", "DELETED"):
        fault = _fault(vc, st.get("fault"))
        if fault:
            out["fault"] = fault
    if status in PROGRESS:
        out["progress"] = 0
    az = vc.host_az(host) if host else None
    out["OS-EXT-AZ:availability_zone"] = az or spec.get("availabilityZone") or ""
    out["config_drive"] = ""
    out["key_name"] = spec.get("keyName")
    out["OS-SRV-USG:launched_at"] = microtime(st.get("launchedAt"))
    out["OS-SRV-USG:terminated_at"] = None
    hostname = ann.get(ANN_HOSTNAME) or sanitize_hostname(spec.get("displayName", ""))
    if vc.ctx.is_admin:
        out.update(_admin_attrs(vc, server, host, hostname, user_data))
    out["OS-EXT-STS:task_state"] = task
    out["OS-EXT-STS:vm_state"] = vm
    out["OS-EXT-STS:power_state"] = int(st.get("powerState", cm.NOSTATE))
    out["os-extended-volumes:volumes_attached"] = []
    out.update(_versioned(vc, spec, host, hostname, detail_list))
    return out


def _admin_attrs(vc: ViewContext, server: Obj, host: str | None, hostname: str,
                 user_data: bool) -> Obj:
    """OS-EXT-SRV-ATTR:*, shown to admins only."""
    md, spec, st = server["metadata"], server["spec"], server.get("status") or {}
    ann = md.get("annotations") or {}
    out: Obj = {"OS-EXT-SRV-ATTR:host": host,
                "OS-EXT-SRV-ATTR:instance_name": f"instance-{md['name'][:8]}",
                "OS-EXT-SRV-ATTR:hypervisor_hostname": st.get("hypervisorHostname") or host}
    if vc.at_least("2.3"):
        img = spec.get("image") or {}
        out.update({
            "OS-EXT-SRV-ATTR:hostname": hostname,
            "OS-EXT-SRV-ATTR:kernel_id": img.get("kernelId") or "",
            "OS-EXT-SRV-ATTR:launch_index": int(ann.get(ANN_LAUNCH_INDEX, 0)),
            "OS-EXT-SRV-ATTR:ramdisk_id": img.get("ramdiskId") or "",
            "OS-EXT-SRV-ATTR:reservation_id": ann.get(ANN_RESERVATION, ""),
            "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda"})
        if user_data:
            out["OS-EXT-SRV-ATTR:user_data"] = spec.get("userData")
    return out


def _versioned(vc: ViewContext, spec: Obj, host: str | None, hostname: str,
               detail_list: bool) -> Obj:
    """The fields later microversions added."""
    out: Obj = {}
    locked = spec.get("locked") or None
    group = [spec["group"]] if spec.get("group") else []
    if vc.at_least("2.9"):
        out["locked"] = bool(locked)
    if vc.at_least("2.16") and vc.ctx.is_admin:
        out["host_status"] = vc.host_status(host)
    if vc.at_least("2.19"):
        out["description"] = spec.get("description")
    if vc.at_least("2.26"):
        out["tags"] = list(spec.get("tags") or [])
    if vc.at_least("2.63"):
        out["trusted_image_certificates"] = None
    if vc.at_least("2.71") and not detail_list:
        out["server_groups"] = group
    if vc.at_least("2.73"):
        out["locked_reason"] = (locked or {}).get("reason")
    if vc.at_least("2.90") and not vc.ctx.is_admin:
        out["OS-EXT-SRV-ATTR:hostname"] = hostname
    if vc.at_least("2.96"):
        out["pinned_availability_zone"] = spec.get("availabilityZone") or None
    if vc.at_least("2.100"):
        out["scheduler_hints"] = {"group": group} if group else {}
    return out
