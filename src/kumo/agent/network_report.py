"""What this host has programmed, reported for ``kumo doctor`` (an ``AgentReport``).

Before each overlay sync the agent reads its kernel (links, FDB, neighbours) and
compares it with what it is about to apply. When nothing the agent watches has
changed since the last sync, every difference was made behind kumo's back (a
hand-deleted FDB entry, a deleted VXLAN device): that is *drift*, recorded with
the entry before the sync repairs it. After the sync the report says what is
still missing, the failures, the DHCP services and the last Port change the agent's
cache had seen (not the watch's bookmarks: they move with every write of any kind, and
a quiet host would rewrite its report at every resync), so the doctor can tell "not
programmed yet" from "agent stuck".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

from kumo.client import ApiClient
from kumo.common.version import VERSION
from kumo.model import ops

from .host import write_report
from .network_desired import Desired

log = logging.getLogger("kumo.agent.network")
Obj = dict[str, Any]
PREFIXES = ("kbr-", "kvx-", "tap")


def kernel_diff(net: Any, want: Desired, vtep: bool) -> list[dict[str, str]]:
    """Entries desired but absent from the kernel ("missing") or present but not desired
    ("stale"), for the tables the agent owns; a device that cannot be read is missing."""
    out: list[dict[str, str]] = []
    links = net.links(PREFIXES)
    devices = list(want.bridges) + (list(want.vxlans) if vtep else []) + list(want.taps)
    for name in devices:
        if name not in links:
            out.append({"table": "link", "device": name, "entry": name, "kind": "missing"})
    masters = {**{t: p.bridge for t, p in want.taps.items()},
               **({v: br for v, (_, br, _) in want.vxlans.items()} if vtep else {})}
    for name, bridge in sorted(masters.items()):
        if name in links and getattr(links[name], "master", bridge) != bridge:
            out.append({"table": "link", "device": name, "entry": f"{name} master {bridge}",
                        "kind": "unplugged"})
    for table, wanted, read in (("fdb", want.fdb, net.fdb), ("neigh", want.neigh,
                                                             net.neighbours)):
        for dev, entries in wanted.items():
            if dev not in links:
                continue
            try:
                have = read(dev)
            except Exception:  # noqa: BLE001 - unreadable counts as missing below
                have = set()
            out += [{"table": table, "device": dev, "entry": " ".join(e), "kind": "missing"}
                    for e in sorted(entries - have)]
            out += [{"table": table, "device": dev, "entry": " ".join(e), "kind": "stale"}
                    for e in sorted(have - entries)]
    return out


def dhcp_hosts_diff(root: Path | None, want: Desired) -> list[dict[str, str]]:
    """Lines of each network's dnsmasq hosts file that differ from its desired hosts
    (the file as the agent last wrote it, unless someone edited it since)."""
    out: list[dict[str, str]] = []
    for nid, plan in sorted(want.dhcp.items()) if root is not None else []:
        path = root / nid / "hosts"
        try:
            have = set(path.read_text().split())
        except OSError:
            continue  # not written yet (DHCP off or a first sync): nothing to compare
        wanted = {f"{mac},{ip},{name}" for mac, ip, name in plan.hosts}
        dev = f"dnsmasq {nid} hosts file"
        out += [{"table": "dhcp-hosts", "device": dev, "entry": e, "kind": "missing"}
                for e in sorted(wanted - have)]
        out += [{"table": "dhcp-hosts", "device": dev, "entry": e, "kind": "stale"}
                for e in sorted(have - wanted)]
    return out


class Reporter:
    """Keeps the sync history and drift of one host and writes its AgentReport."""

    def __init__(self, api: ApiClient, host: str, version: str = VERSION) -> None:
        self.api = api
        self.host = host
        self.version = version
        self.syncs: deque[dict[str, Any]] = deque(maxlen=ops.SYNC_HISTORY)
        self.drift: deque[dict[str, Any]] = deque(maxlen=ops.DRIFT_KEEP)
        self._last_desired: Any = None
        self._restarts: dict[str, int] = {}
        self._latest: Obj | None = None
        self._written: Any = None
        self._last_write = 0.0
        self._writer: asyncio.Task[None] | None = None
        self.dhcp_root: Path | None = None  # <state>/dhcp: dnsmasq hosts files to audit

    def audit(self, net: Any, want: Desired, vtep: bool, healthy: bool) -> None:
        """Before a sync: what the kernel lacks or has extra. When the desired state is the
        one the last (clean) sync applied, every difference is drift made behind kumo."""
        fingerprint = (sorted(want.bridges), sorted(want.vxlans), sorted(want.taps),
                       {k: sorted(v) for k, v in want.fdb.items()},
                       {k: sorted(v) for k, v in want.neigh.items()},
                       {k: p.hosts for k, p in want.dhcp.items()})
        same, self._last_desired = fingerprint == self._last_desired, fingerprint
        if not (same and healthy):
            return
        now = time.time()
        for d in kernel_diff(net, want, vtep) + dhcp_hosts_diff(self.dhcp_root, want):
            self.drift.append({"at": now, **d})
            log.warning("drift on %s: %s %s %s %s", self.host, d["kind"], d["table"],
                        d["device"], d["entry"])

    def after(self, agent: Any, want: Desired, revision: int, start: float,
              changes: int) -> None:
        """After a sync: record it and (re)write the report in the background."""
        self.syncs.append({"revision": revision, "start": start, "end": time.time(),
                           "changes": changes})
        for nid, n in getattr(agent.services, "restarts", {}).items():
            if n > self._restarts.get(nid, 0):
                self.drift.append({"at": time.time(), "table": "dhcp", "device":
                                   f"dnsmasq {nid}", "entry": "process", "kind": "missing"})
            self._restarts[nid] = n
        missing = kernel_diff(agent.net, want, bool(agent.vtep_ip)) if agent.failures else []
        self._latest = self.status(agent, want, [m for m in missing if m["kind"] == "missing"])
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())

    def status(self, agent: Any, want: Desired, missing: list[dict[str, str]]) -> Obj:
        counts = want.counts()
        restarts = getattr(agent.services, "restarts", {})
        dhcp = [{"networkId": nid, "restarts": restarts.get(nid, 0),
                 "hosts": len(want.dhcp[nid].hosts) if nid in want.dhcp else 0, **st}
                for nid, st in agent.services.debug_state()["dhcp"].items()]
        return {
            "host": self.host, "vtepIp": agent.vtep_ip, "agentVersion": self.version,
            "portsRevision": agent.ports.changed_revision, "syncs": list(self.syncs),
            "desired": {**counts, "bridges": len(want.bridges), "vxlans": len(want.vxlans),
                        "taps": len(want.taps)},
            "programmed": {t: counts[t] - sum(1 for m in missing if m["table"] == t)
                           for t in ("fdb", "neigh")},
            "missing": missing[:50], "drift": list(self.drift),
            "failures": [{"what": k, "message": v} for k, v in sorted(agent.failures.items())],
            "dhcp": dhcp}

    async def _write(self) -> None:
        """Write the latest report when it changed, at most once per REPORT_MIN_INTERVAL."""
        while self._latest is not None:
            status, self._latest = self._latest, None
            fingerprint = {k: v for k, v in status.items() if k not in ("syncs",)}
            fingerprint["changes"] = [s["changes"] for s in status["syncs"][-1:]]
            if fingerprint == self._written:
                continue
            wait = self._last_write + ops.REPORT_MIN_INTERVAL - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
                if self._latest is not None:
                    continue  # a newer report came while we waited: write that one
            status["reportedAt"] = time.time()
            if await self._put(status):
                self._written, self._last_write = fingerprint, time.time()

    async def _put(self, status: Obj) -> bool:
        return await write_report(self.api, self.host, status, "agent report")
