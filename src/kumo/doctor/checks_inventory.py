"""Host inventory invariants: QEMU processes vs servers, agent versions, image caches.

Each agent reports what runs on its host (``agent/inventory.py``); these checks compare
it with what the store says should run there. The inventory is trusted only while fresh
(``inventory.seconds``) and its agent alive: a dead agent is agent-down's finding.
"""

from __future__ import annotations

from typing import Any

from kumo.common.clock import epoch
from kumo.common.version import VERSION, parse

from .findings import Finding, Link, check
from .snapshot import Snapshot

Obj = dict[str, Any]
RUNNING = ("running", "paused")


def _inventories(snap: Snapshot) -> dict[str, Obj]:
    """host -> a fresh inventory of a live agent."""
    out = {}
    for name, report in snap.by_name("reports").items():
        st = report.get("status") or {}
        at = float(st.get("inventoryAt") or 0)
        if at and snap.now - at < snap.settings["inventory.seconds"] and snap.alive(name):
            out[name] = st
    return out


@check("vm-missing")
async def vm_missing(snap: Snapshot) -> list[Finding]:
    """A server that should run (power on, built) whose VM the host's driver does not see
    running, in an inventory taken after the server was launched."""
    out = []
    invs = _inventories(snap)
    for s in snap.lists["servers"]:
        md, spec, st = s["metadata"], s["spec"], s.get("status") or {}
        host = spec.get("host")
        if (host not in invs or md.get("deletionTimestamp") or spec.get("power", "on") == "off"
                or st.get("vmState") in ("building", "error", None)):
            continue
        inv = invs[host]
        if float(inv["inventoryAt"]) <= epoch(st.get("launchedAt")):
            continue
        vm = next((v for v in inv.get("vms") or [] if v["id"] == md["name"]), None)
        if vm is not None and vm["power"] in RUNNING:
            continue
        seen = "no VM at all" if vm is None else f"its VM {vm['power']} (no process)"
        why = ("its QEMU process exited although nobody asked kumo to stop it (killed by "
               "hand, the OOM killer, or a QEMU crash: read its console log and the "
               "host's kernel log)") if vm is not None else (
               "its VM directory is gone from the host (deleted by hand)")
        out.append(Finding("vm-missing", "critical", [
            Link(f"server {md['name']} ({st.get('vmState')}) is not running although its "
                 "desired power is on: the guest is unreachable", "compute-api",
                 {"vmState": st.get("vmState"), "powerState": st.get("powerState")}),
            Link(f"host {host}'s compute driver sees {seen} for it", f"compute-agent@{host}",
                 {"vm": vm, "inventoryAt": inv["inventoryAt"], "pid": st.get("pid")}),
            Link(why, f"outside kumo on {host}", {"lastPid": st.get("pid")})],
            f"`openstack server reboot --hard {md['name']}` (the agent boots it again on "
            f"{host}); find what killed it", [f"Server/{md['name']}"], [host], [md["namespace"]]))
    return out


@check("vm-stray")
async def vm_stray(snap: Snapshot) -> list[Finding]:
    """A VM running on a host that no server bound to that host owns."""
    out = []
    bound = {(s["spec"].get("host"), s["metadata"]["name"]) for s in snap.lists["servers"]}
    for host, inv in _inventories(snap).items():
        for vm in inv.get("vms") or []:
            if not vm.get("stray") or (host, vm["id"]) in bound or vm["power"] not in RUNNING:
                continue
            out.append(Finding("vm-stray", "warning", [
                Link(f"a VM {vm['id']} (pid {vm.get('pid')}) uses CPU and memory on host "
                     f"{host} that the scheduler does not count", "scheduler", {"vm": vm}),
                Link(f"no server bound to {host} owns VM {vm['id']}: it was started outside "
                     "kumo, or its server was removed from the store while the VM ran",
                     f"outside kumo on {host}", {"vm": vm})],
                f"restart the agent on {host} (it destroys VMs of no server when it adopts) "
                f"or kill pid {vm.get('pid')}", [f"VM/{vm['id']}"], [host]))
    return out


@check("agent-version")
async def agent_version(snap: Snapshot) -> list[Finding]:
    """An agent whose build is not the control plane's (a host missed an upgrade)."""
    out = []
    want = parse(VERSION)
    for name, host in snap.by_name("hosts").items():
        have = str((host.get("status") or {}).get("agentVersion") or "")
        if not have or parse(have) == want or not snap.alive(name):
            continue
        older = parse(have) < want
        out.append(Finding("agent-version", "critical" if have.split(".")[:2] !=
                           VERSION.split(".")[:2] else "warning", [
            Link(f"host {name} may not honour fields and behaviours of {VERSION} (servers "
                 "and ports bound to it can differ from the rest of the cloud)",
                 f"agent@{name}", {"agentVersion": have}),
            Link(f"host {name} runs agent {have}, the control plane runs {VERSION}: the host "
                 f"was {'not upgraded' if older else 'upgraded before the control plane'}",
                 f"deployment of {name}", {"agentVersion": have, "controlPlane": VERSION})],
            f"upgrade kumo on {name} to {VERSION} and restart its agent", [f"Host/{name}"],
            [name]))
    return out


@check("image-cache")
async def image_cache(snap: Snapshot) -> list[Finding]:
    """A host's cached image whose bytes no longer match the image's checksum."""
    out = []
    images = snap.by_name("images")
    for host, inv in _inventories(snap).items():
        for cached in inv.get("images") or []:
            img = images.get(cached["id"])
            want = ((img or {}).get("status") or {}).get("checksum")
            if not want or cached.get("md5") == want:
                continue
            out.append(Finding("image-cache", "critical", [
                Link(f"servers built on {host} from image {cached['id']} boot from bad bytes "
                     "(a guest that panics, a disk QEMU refuses)", f"compute-agent@{host}",
                     {"image": cached["id"]}),
                Link(f"host {host}'s cached copy {cached['path']} has md5 {cached['md5']}, the "
                     f"image's checksum is {want}: the file changed after the agent verified "
                     "it", f"outside kumo on {host}", {"cached": cached, "checksum": want})],
                f"delete {cached['path']} on {host}: the agent downloads and verifies it again "
                "at the next build", [f"Image/{cached['id']}"], [host]))
    return out
