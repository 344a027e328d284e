"""Text for terminals: a doctor report and a trace (``-o json`` prints the dicts as they are)."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def doctor_text(report: Obj) -> str:
    scope = report["scope"]
    head = f"kumo doctor ({scope['kind']}{' ' + scope['value'] if scope['value'] else ''}): "
    if report["healthy"]:
        return head + (f"healthy — {len(report['checks'])} checks on "
                       f"{sum(report['counted'].values())} objects in {report['seconds']} s\n")
    lines = [head + f"{len(report['findings'])} finding(s) in {report['seconds']} s", ""]
    for i, f in enumerate(report["findings"], 1):
        lines.append(f"{i}. [{f['severity'].upper()}] {f['check']}: {f['symptom']}")
        for depth, link in enumerate(f["chain"][1:], 1):
            lines.append(f"   {'  ' * (depth - 1)}└─ because {link['what']}  "
                         f"[{link['component']}]")
        lines.append(f"   root cause: {f['rootCause']}")
        lines.append(f"   owner: {f['owner']}")
        lines.append(f"   fix: {f['fix']}")
        lines.append("")
    return "\n".join(lines)


def trace_text(tr: Obj) -> str:
    o = tr["object"]
    lines = [f"{o['kind']}/{o['name']} ({o['state'] or '-'}, resourceVersion "
             f"{o['resourceVersion']})", ""]
    lines.append(f"{'+ms':>9} {'took ms':>8}  {'component':<28} {'step':<16} {'rev':>6}  "
                 "object / message")
    for s in tr["steps"]:
        comp = s["component"] + (f"@{s['host']}" if s.get("host") and "@" not in
                                 s["component"] else "")
        lines.append(f"{s['atMs']:>9.1f} {s['durationMs']:>8.1f}  {comp[:28]:<28} "
                     f"{s['reason'][:16]:<16} {s['revision'] or '':>6}  {s['object']}: "
                     f"{s['message']}")
    lines.append("")
    if tr["waiting"]:
        lines.append("waiting now:")
        lines += [f"  {w['waiter']} → {w['on']}: {w['what']}" for w in tr["waiting"]]
    else:
        lines.append("converged: nobody is waiting")
    return "\n".join(lines) + "\n"
