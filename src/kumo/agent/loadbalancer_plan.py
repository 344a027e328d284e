"""What HAProxy should serve for one LoadBalancer, and what its stats socket says back.

    plan(lb, run_dir) -> LbPlan          the object's tree as the driver's plain plan
    operating(lb, rows) -> {id: status}  Octavia's operating_status of every child
    numbers(rows) -> {id: {stat: int}}   the counters the API's /stats serves

Pure functions, so the rules (a stopped member is ERROR, its pool and listener DEGRADED,
the LB DEGRADED) are tested without a HAProxy.
"""

from __future__ import annotations

from typing import Any

from kumo.drivers.haproxy_config import (
    LbPlan,
    ListenerPlan,
    MemberPlan,
    MonitorPlan,
    PoolPlan,
)
from kumo.drivers.haproxy_l7 import PolicyPlan, RulePlan

Obj = dict[str, Any]
STATS = ("scur", "qcur", "rate", "stot", "bin", "bout", "ereq", "econ", "eresp",
         "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "check_duration", "chkfail")
_WORST = ("ERROR", "DEGRADED", "ONLINE")


def _member(m: Obj) -> MemberPlan:
    return MemberPlan(m["id"], m["address"], int(m["protocolPort"]), int(m.get("weight", 1)),
                      bool(m.get("backup", False)), bool(m.get("adminStateUp", True)),
                      m.get("monitorAddress"), m.get("monitorPort"))


def _monitor(h: Obj | None) -> MonitorPlan | None:
    if not h or not h.get("adminStateUp", True):
        return None
    return MonitorPlan(h["type"], int(h["delay"]), int(h["timeout"]), int(h["maxRetries"]),
                       int(h.get("maxRetriesDown", 3)), h.get("httpMethod") or "GET",
                       h.get("urlPath") or "/", h.get("expectedCodes") or "200")


def _policies(x: Obj) -> tuple[PolicyPlan, ...]:
    """The listener's enabled policies in position order, each with its enabled rules."""
    return tuple(
        PolicyPlan(p["id"], p["action"],
                   tuple(RulePlan(r["id"], r["type"], r["compareType"], r["value"],
                                  r.get("key"), bool(r.get("invert", False)))
                         for r in p.get("rules") or [] if r.get("adminStateUp", True)),
                   p.get("redirectPoolId"),
                   p.get("redirectUrl") or p.get("redirectPrefix"),
                   int(p.get("redirectHttpCode") or 302))
        for p in x.get("l7policies") or [] if p.get("adminStateUp", True))


def plan(lb: Obj) -> LbPlan:
    spec = lb["spec"]
    pools = tuple(
        PoolPlan(p["id"], p["protocol"], p["lbAlgorithm"],
                 tuple(_member(m) for m in p.get("members") or []),
                 _monitor(p.get("healthMonitor")),
                 (p.get("sessionPersistence") or {}).get("type"),
                 (p.get("sessionPersistence") or {}).get("cookie_name"))
        for p in spec.get("pools") or [] if p.get("adminStateUp", True))
    live = {p.id for p in pools}
    listeners = tuple(
        ListenerPlan(x["id"], x["protocol"], int(x["protocolPort"]),
                     x.get("defaultPoolId") if x.get("defaultPoolId") in live else None,
                     bool(x.get("adminStateUp", True)), int(x.get("connectionLimit", -1)),
                     int(x.get("timeoutClientData", 50000)),
                     int(x.get("timeoutMemberConnect", 5000)),
                     int(x.get("timeoutMemberData", 50000)),
                     (x.get("insertHeaders") or {}).get("X-Forwarded-For", "").lower()
                     == "true", tuple(x.get("allowedCidrs") or ()), _policies(x))
        for x in spec.get("listeners") or [])
    return LbPlan(lb["metadata"]["name"], spec["vipAddress"], listeners, pools,
                  bool(spec.get("adminStateUp", True)))


def _rows(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    return {(r.get("pxname", ""), r.get("svname", "")): r for r in rows}


def member_status(row: dict[str, str] | None, monitored: bool) -> str:
    if row is None:
        return "OFFLINE"
    st = row.get("status", "")
    if st.startswith("MAINT"):
        return "OFFLINE"
    if st.startswith("DRAIN") or st.startswith("NOLB"):
        return "DRAINING"
    if not monitored or st == "no check":
        return "NO_MONITOR"
    return "ONLINE" if st.startswith("UP") else "ERROR"


def _roll(states: list[str]) -> str:
    bad = [s for s in states if s == "ERROR"]
    if states and len(bad) == len(states):
        return "ERROR"
    return "DEGRADED" if bad or "DEGRADED" in states else "ONLINE"


def operating(lb: Obj, rows: list[dict[str, str]]) -> dict[str, str]:
    """Every child's operating_status from one ``show stat``."""
    by = _rows(rows)
    out: dict[str, str] = {}
    pools = {}
    for p in lb["spec"].get("pools") or []:
        hm = p.get("healthMonitor")
        monitored = bool(hm and hm.get("adminStateUp", True))
        states = []
        for m in p.get("members") or []:
            out[m["id"]] = member_status(by.get((f"p{p['id']}", f"m{m['id']}")), monitored)
            if m.get("adminStateUp", True):
                states.append(out[m["id"]])
        pools[p["id"]] = out[p["id"]] = _roll([s for s in states if s != "NO_MONITOR"])
        if hm:
            out[hm["id"]] = "ONLINE" if monitored else "OFFLINE"
    listeners = []
    for x in lb["spec"].get("listeners") or []:
        front = by.get((f"l{x['id']}", "FRONTEND"))
        if front is None or front.get("status") != "OPEN":
            out[x["id"]] = "OFFLINE"
        else:
            out[x["id"]] = _roll([pools.get(x.get("defaultPoolId") or "", "ONLINE")])
        listeners.append(out[x["id"]])
        for p in x.get("l7policies") or []:  # Octavia: ONLINE once applied, else OFFLINE
            out[p["id"]] = "ONLINE" if p.get("adminStateUp", True) else "OFFLINE"
            for r in p.get("rules") or []:
                out[r["id"]] = "ONLINE" if r.get("adminStateUp", True) else "OFFLINE"
    top = [s for s in listeners if s != "OFFLINE"]
    out[lb["metadata"]["name"]] = "DEGRADED" if top and _roll(top) != "ONLINE" else "ONLINE"
    if listeners and not top:
        out[lb["metadata"]["name"]] = "OFFLINE"
    return out


def _int(v: str | None) -> int:
    try:
        return int(v or 0)
    except ValueError:
        return 0


def numbers(rows: list[dict[str, str]]) -> dict[str, dict[str, int]]:
    """Counters by child id: listener (FRONTEND), pool (BACKEND), member (server row)."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        px, sv = r.get("pxname", ""), r.get("svname", "")
        if sv == "FRONTEND" and px.startswith("l"):
            ident = px[1:]
        elif sv == "BACKEND" and px.startswith("p"):
            ident = px[1:]
        elif sv.startswith("m") and px.startswith("p"):
            ident = sv[1:]
        else:
            continue
        out[ident] = {k: _int(r.get(k)) for k in STATS if r.get(k) not in (None, "")}
    return out


CUMULATIVE = ("stot", "bin", "bout", "ereq", "econ", "eresp", "hrsp_2xx", "hrsp_3xx",
              "hrsp_4xx", "hrsp_5xx", "chkfail")
Counters = dict[str, dict[str, int]]


def accumulate(last: Counters, base: Counters, now: Counters) -> tuple[Counters, Counters]:
    """(new base, totals): a reload starts a worker whose counters begin at 0, so a
    cumulative counter that went down has its last value added to the base (Octavia's
    totals must not fall back at every listener change)."""
    new_base: Counters = {}
    totals: Counters = {}
    for ident, stats in now.items():
        b = dict(base.get(ident) or {})
        prev = last.get(ident) or {}
        out = dict(stats)
        for k in CUMULATIVE:
            if k in stats:
                if stats[k] < prev.get(k, 0):
                    b[k] = b.get(k, 0) + prev[k]
                out[k] = stats[k] + b.get(k, 0)
        new_base[ident] = b
        totals[ident] = out
    return new_base, totals
