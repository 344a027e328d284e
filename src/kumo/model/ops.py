"""Operability kinds: AgentReport — what a host agent has programmed, for ``kumo doctor``.

AgentReport (cluster-scoped, name = host name), written only by that host's agent
  status {host, vtepIp, agentVersion, reportedAt (epoch s),
          portsRevision (the last Port change the agent's cache had seen at its last
                         sync; watch bookmarks do not move it, so a quiet host's
                         report is not rewritten),
          syncs [{revision (likewise), start, end, changes}]   the last SYNC_HISTORY syncs
          desired {fdb, neigh, bridges, vxlans, taps}, programmed {fdb, neigh, ...}
          missing [{table, device, entry}]         desired but not in the kernel after the sync
          drift [{at, table, device, entry, kind}] damage found in the kernel and repaired
                                                   (kind: missing | stale), the last DRIFT_KEEP
          failures [{what, message}], dhcp [{networkId, up, leases, hosts, restarts}],
          vms [{id, power, pid}], images [{id, size, md5, path}], inventoryAt
                                                   the host's inventory (agent/inventory.py)}

The agent reads its kernel (FDB, neighbours, links) before each sync: what it then
repairs although nothing it watches changed was done to the host behind kumo's back.
The report is written when it changes, at most once per REPORT_MIN_INTERVAL, so a quiet
host costs nothing and a busy one a bounded write rate.
"""

from __future__ import annotations

from .registry import KindInfo, register

AGENT_REPORT = "AgentReport"
SYNC_HISTORY = 20
DRIFT_KEEP = 20
REPORT_MIN_INTERVAL = 1.0

register(KindInfo(AGENT_REPORT, "agentreports", namespaced=False, admin_only=True))
