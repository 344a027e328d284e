"""Object invariants: builds that do not finish, ports not plugged, IPAM, quotas, DHCP,
writers fighting over one object."""

from __future__ import annotations

from typing import Any

from kumo.core import quotas, trace
from kumo.model import compute as cm
from kumo.model import network as nm

from .findings import Finding, Link, check
from .snapshot import Snapshot, age

Obj = dict[str, Any]
ALLOC_GRACE = 120.0  # an allocation without its port younger than this may be in flight


@check("stuck-build")
async def stuck_build(snap: Snapshot) -> list[Finding]:
    out = []
    limit = snap.settings["stuck-build.seconds"]
    for s in snap.lists["servers"]:
        st = s.get("status") or {}
        md = s["metadata"]
        if st.get("vmState") != "building" or age(md.get("creationTimestamp"),
                                                   snap.now) < limit:
            continue
        t = await trace.trace(snap.objects, "servers", md["name"], md["namespace"])
        chain = [Link(f"server {md['name']} has been in BUILD for "
                      f"{age(md.get('creationTimestamp'), snap.now):.0f} s", "compute-api",
                      {"lastStep": (t["steps"] or [{}])[-1]})]
        for w in t["waiting"]:
            chain.append(Link(f"{w['waiter']} waits on {w['on']}: {w['what']}", w["on"], w))
        if len(chain) == 1:
            chain.append(Link("no component reports waiting: the last step above is where "
                              "it stopped", "compute-agent", {}))
        out.append(Finding("stuck-build", "critical", chain,
                           f"fix {chain[-1].component}; then `openstack server reboot --hard` "
                           "or delete and recreate", [f"Server/{md['name']}"],
                           [s["spec"].get("host") or ""], [md["namespace"]]))
    return out


@check("ipam")
async def ipam(snap: Snapshot) -> list[Finding]:
    out = []
    allocs = snap.by_name("ipallocations")
    ports = {p["metadata"]["name"]: p for p in snap.lists["ports"]}
    for p in ports.values():
        for f in p["spec"].get("fixedIps") or []:
            key = f"{f.get('subnetId')}.{f.get('ipAddress')}"
            holder = ((allocs.get(key) or {}).get("spec") or {}).get("portId")
            if holder == p["metadata"]["name"]:
                continue
            why = "no IPAllocation claims it" if holder is None else f"it is claimed by {holder}"
            out.append(Finding("ipam", "critical", [
                Link(f"port {p['metadata']['name']} has {f.get('ipAddress')}", "network-api",
                     {"port": p["metadata"]["name"]}),
                Link(f"but {why}: another port can be given the same address",
                     "ipam (core/ipam.py)", {"allocation": key})],
                "recreate the port (or its allocation with the native API)",
                [f"Port/{p['metadata']['name']}"], [], [p["metadata"]["namespace"]]))
    for key, a in allocs.items():
        if a["spec"].get("portId") in ports or age(a["metadata"].get("creationTimestamp"),
                                                    snap.now) < ALLOC_GRACE:
            continue
        out.append(Finding("ipam", "warning", [
            Link(f"address {key} cannot be allocated", "ipam (core/ipam.py)", {}),
            Link(f"its IPAllocation names port {a['spec'].get('portId')}, which does not "
                 "exist (a crash between claim and port write)",
                 "allocation collector (control/allocations.py)", {"allocation": key})],
            "the allocation collector deletes it within 60 s; if it stays, it is not running",
            [f"IPAllocation/{key}"]))
    return out


@check("quota-drift")
async def quota_drift(snap: Snapshot) -> list[Finding]:
    out = []
    usage = {(u["metadata"]["namespace"], u["metadata"]["name"]): quotas.used_of(u)
             for u in snap.lists["quotausages"]}
    for service in quotas.COUNTED:
        counted = await quotas.actual(snap.objects, service)
        for (project, svc), used in usage.items():
            if svc != service:
                continue
            real: dict[str, int] = {}
            for d in counted.get(project, {}).values():
                for k, n in d.items():
                    real[k] = real.get(k, 0) + n
            wrong = {k: (n, real.get(k, 0)) for k, n in used.items() if n != real.get(k, 0)}
            if wrong:
                out.append(_quota_finding(project, service, wrong))
    return out


def _quota_finding(project: str, service: str, wrong: dict[str, tuple[int, int]]) -> Finding:
    desc = ", ".join(f"{k} counted {a} but {b} exist" for k, (a, b) in sorted(wrong.items()))
    return Finding("quota-drift", "warning", [
        Link(f"project {project}'s {service} usage is wrong: {desc}", "quota counter", {}),
        Link("a counter changed without its objects (a crash between claim and create, or a "
             "delete outside the faces)", "quota reconciler (core/quotas.py)", {
                 "counted": {k: a for k, (a, _) in wrong.items()}})],
        "the quota reconciler repairs it within two passes (60 s each)",
        [f"QuotaUsage/{service}"], [], [project])


@check("quota-full")
async def quota_full(snap: Snapshot) -> list[Finding]:
    out = []
    sets = {q["metadata"]["namespace"]: q.get("spec") or {}
            for q in (await snap.objects.list(cm.QUOTA_SET, None)).items
            if q["metadata"]["name"] == nm.QUOTA_NAME}
    for u in snap.lists["quotausages"]:
        if u["metadata"]["name"] != quotas.NETWORK:
            continue
        project = u["metadata"]["namespace"]
        limits = {k: int(sets.get(project, {}).get(k, v)) for k, v in nm.QUOTA_DEFAULTS.items()}
        for res, used in quotas.used_of(u).items():
            if limits.get(res, -1) >= 0 and used >= limits[res]:
                out.append(Finding("quota-full", "warning", [
                    Link(f"creating a {res} in project {project} fails (409 OverQuota)",
                         "network-api", {}),
                    Link(f"project {project} uses {used} of its {limits[res]} {res}",
                         f"project {project} (its quota)", {"used": used,
                                                            "limit": limits[res]})],
                    f"delete unused {res} or raise the quota (`openstack quota set`)",
                    [f"QuotaUsage/{quotas.NETWORK}"], [], [project]))
    return out


@check("dhcp")
async def dhcp(snap: Snapshot) -> list[Finding]:
    out = []
    for name, report in snap.by_name("reports").items():
        st = report.get("status") or {}
        fails = {f["what"]: f["message"] for f in st.get("failures") or []}
        for d in st.get("dhcp") or []:
            if d.get("up") or not snap.alive(name):
                continue
            nid = d["networkId"]
            chain = [Link(f"guests on network {nid} get no DHCP lease", "guests", {}),
                     Link(f"dnsmasq for network {nid} is not running on host {name}",
                          f"network-agent@{name} (dnsmasq)", d)]
            why = fails.get(f"dnsmasq {nid}")
            if why:
                chain.append(Link(f"the agent cannot start it: {why[-300:]}",
                                  f"outside kumo on {name}" if "in use" in why else
                                  f"network-agent@{name} (dnsmasq)", {"failure": why}))
            out.append(Finding("dhcp", "critical", chain,
                               "the agent restarts it at every sync; if it stays down, fix "
                               f"the cause above (<state>/dhcp/{nid}/dnsmasq.log on {name})",
                               [f"Network/{nid}"], [name]))
    return out


@check("writer-conflict")
async def writer_conflict(snap: Snapshot) -> list[Finding]:
    out = []
    for e in await snap.events("WriteConflict"):
        if age(e.get("endTime"), snap.now) > 3600:
            continue
        inv = e.get("involvedObject") or {}
        obj = f"{inv.get('kind')}/{inv.get('name')}"
        out.append(Finding("writer-conflict", "warning", [
            Link(f"a write to {obj} was refused with 409 Conflict", str(e.get("writer")),
                 {"message": e.get("message")}),
            Link(f"{e.get('writer')} writes {obj} from a stale copy (resourceVersion "
                 f"{e.get('sentResourceVersion')}, current {e.get('currentResourceVersion')}) "
                 f"over {e.get('lastWriter')}'s write: two writers fight over one object",
                 str(e.get("writer")), {"lastWriter": e.get("lastWriter")})],
            f"make {e.get('writer')} re-read before writing (or merge-patch only its own "
            "keys); kumo refused the overwrite, so nothing was lost", [obj], [],
            [inv.get("namespace") or ""]))
    return out
