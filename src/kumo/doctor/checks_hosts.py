"""Host invariants: live agents, what each agent programmed, drift, watch lag."""

from __future__ import annotations

import bisect
from itertools import accumulate
from typing import Any

from .findings import Finding, Link, check
from .snapshot import Snapshot

Obj = dict[str, Any]


def _bound(snap: Snapshot, host: str) -> tuple[list[str], list[str]]:
    servers = [f"Server/{s['metadata']['name']}" for s in snap.lists["servers"]
               if s["spec"].get("host") == host]
    ports = [f"Port/{p['metadata']['name']}" for p in snap.lists["ports"]
             if p["spec"].get("bindingHostId") == host]
    return servers, ports


@check("agent-down")
async def agent_down(snap: Snapshot) -> list[Finding]:
    out = []
    leases = snap.by_name("leases")
    for name in snap.by_name("hosts"):
        if snap.alive(name):
            continue
        servers, ports = _bound(snap, name)
        lease = (leases.get(name) or {}).get("spec") or {}
        renew = float(lease.get("renewTime") or 0)
        since = f"{snap.now - renew:.0f} s ago" if renew else "never"
        symptom = (f"{len(servers)} servers and {len(ports)} ports on host {name} are not "
                   "reconciled (no builds, no plugs, no l2pop updates from it)")
        out.append(Finding("agent-down", "critical" if servers or ports else "warning", [
            Link(symptom, "compute-agent", {"servers": servers[:10], "ports": ports[:10]}),
            Link(f"host {name}'s agent stopped renewing its Lease (last renewal {since})",
                 f"agent@{name}", {"lease": lease})],
            f"start the agent on {name} (`kumo agent --host {name} ...`); VMs and dnsmasq "
            "outlived it and are adopted", servers[:10] + ports[:10], [name]))
    return out


DRIFT_TEXT = {  # table -> (what the entry is, the symptom it causes)
    "fdb": ("FDB entry", "traffic to some ports through host {h} may have been lost"),
    "neigh": ("ARP (neighbour) entry", "traffic to some ports through host {h} may have "
              "been lost"),
    "link": ("device", "ports on host {h} lost their overlay connectivity"),
    "dhcp": ("DHCP server", "guests on host {h}'s networks got no DHCP answer"),
    "dhcp-hosts": ("DHCP host entry", "guests on host {h}'s networks may get no lease or "
                   "another guest's address")}


def _drift_cause(d: Obj) -> str:
    what = DRIFT_TEXT.get(d["table"], (d["table"], ""))[0]
    if d["kind"] == "unplugged":
        dev, _, bridge = d["entry"].partition(" master ")
        return f"{what} {dev} was unplugged from its bridge {bridge}"
    if d["table"] == "dhcp":
        return f"{what} of {d['device']} was found dead and restarted"
    return f"{what} {d['entry']} on {d['device']} was {d['kind']}"


@check("overlay-drift")
async def overlay_drift(snap: Snapshot) -> list[Finding]:
    out = []
    for name, report in snap.by_name("reports").items():
        st = report.get("status") or {}
        recent = [d for d in st.get("drift") or [] if snap.now - float(d.get("at", 0))
                  < snap.settings["drift.window"]]
        if not recent:
            continue
        d = recent[-1]
        symptom = DRIFT_TEXT.get(d["table"], ("", "host {h} was changed"))[1].format(h=name)
        out.append(Finding("overlay-drift", "warning", [
            Link(f"{symptom} ({len(recent)} entries found wrong)", "network-agent@" + name,
                 {"drift": recent[-5:]}),
            Link(f"{_drift_cause(d)} although nothing kumo watches had changed: something "
                 "outside kumo changed the host", f"outside kumo on {name}", {"at": d["at"]})],
            f"the agent repaired it at its next sync; find what edits {d['device']} on "
            f"{name} (a script, another agent, a hand-made change)", [], [name]))
    return out


@check("programming-failed")
async def programming_failed(snap: Snapshot) -> list[Finding]:
    out = []
    for name, report in snap.by_name("reports").items():
        st = report.get("status") or {}
        fails = st.get("failures") or []
        if not fails or not snap.alive(name):
            continue
        missing = st.get("missing") or []
        out.append(Finding("programming-failed", "critical", [
            Link(f"host {name} is missing {len(missing)} desired overlay entries or devices",
                 f"network-agent@{name}", {"missing": missing[:10]}),
            Link(f"the agent cannot program {fails[0]['what']}: {fails[0]['message']}",
                 f"network-agent@{name}", {"failures": fails[:10]})],
            f"fix the host-side error on {name}; the agent retries at every sync", [], [name]))
    return out


@check("watch-lag")
async def watch_lag(snap: Snapshot) -> list[Finding]:
    """An alive agent whose Port cache is behind a port it must program, for too long.

    Ports are sorted by revision once, with the latest change time of every suffix, so
    each host costs a bisection (1,000 ports on 100 hosts: not 100,000 date parses)."""
    out = []
    order = sorted(snap.lists["ports"], key=lambda p: int(p["metadata"]["resourceVersion"]))
    revs = [int(p["metadata"]["resourceVersion"]) for p in order]
    newest = revs[-1] if revs else 0
    lag = snap.settings["watch-lag.seconds"]
    latest: list[float] | None = None  # latest[i]: the last change among order[i:]
    for name, report in snap.by_name("reports").items():
        st = report.get("status") or {}
        seen = int(st.get("portsRevision") or 0)
        syncs = st.get("syncs") or []
        last = float(syncs[-1]["end"]) if syncs else 0.0
        if seen >= newest or not snap.alive(name) or snap.now - last < lag:
            continue
        if latest is None:
            latest = list(accumulate(reversed([_changed_at(p) for p in order]), max))[::-1]
        i = bisect.bisect_right(revs, seen)
        behind = order[i:]
        if snap.now - latest[i] < lag:
            continue
        out.append(Finding("watch-lag", "warning", [
            Link(f"{len(behind)} port changes are not reflected on host {name}",
                 f"network-agent@{name}", {"portsRevision": seen, "newest": newest}),
            Link(f"host {name}'s Port watch is stuck at revision {seen} (last sync "
                 f"{snap.now - last:.0f} s ago) although its Lease is renewed",
                 f"network-agent@{name}", {"lastSync": last})],
            f"restart the agent on {name}; it re-lists and converges",
            [f"Port/{p['metadata']['name']}" for p in behind[:10]], [name]))
    return out


def _changed_at(port: Obj) -> float:
    from kumo.common.clock import epoch

    st = port.get("status") or {}
    return max(epoch(st.get("pluggedAt")), epoch(port["metadata"].get("creationTimestamp")))
