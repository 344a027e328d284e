"""Compute kinds: Server, Flavor, Keypair, ServerGroup, InstanceAction, Host, Lease,
ConsoleLog — and who owns which field.

Server (namespaced by project, name = server uuid)
  spec   written by the compute facade: what the tenant asked for
         {displayName, flavor{id,name,vcpus,ram,disk,ephemeral,swap,extraSpecs},
          image{id,name,diskFormat,checksum,size,kernelId,ramdiskId,properties},
          keyName, publicKey, userData (base64), metadata{}, availabilityZone,
          group (server group id), networks ("none"|"auto"|[...]),
          power ("on"|"off"|"paused"|"suspended"), desired power state
          reboot {nonce:int, type:"SOFT"|"HARD"}, bump nonce to ask for a reboot
          rebuild {nonce:int, image{...}},        bump nonce to ask for a rebuild
          snapshot {nonce:int, imageId},          bump nonce to ask for a createImage
          locked {by, reason} | null, description, tags[], requestId (of the last action),
          host}                                   written once by the scheduler (binding)
  status written by the scheduler until bound, then by the host agent only
         {vmState ("building"|"active"|"stopped"|"paused"|"error"|"deleted"),
          taskState (null|"scheduling"|"spawning"|"rebooting"|"powering-off"|...),
          powerState (0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 6 CRASHED),
          host, hypervisorHostname, launchedAt, fault{message, code, details, created},
          observedRebootNonce, observedRebuildNonce, observedSnapshotNonce, attempts, excludedHosts[],
          accelerator, pid, recover ("reboot"|"rebuild": an ERROR server being built again)}
  labels kumo.io/host=<host> once bound (agents watch by label)
  finalizers kumo.io/compute-agent once bound: the agent removes it after destroying the VM.

Host (cluster-scoped, name = host name)
  spec   admin: {enabled, disabledReason, availabilityZone, allocationRatios{cpu,ram,disk}}
  status agent:  {capacity{vcpus,memoryMb,diskGb}, accelerator, hypervisorType, cpuArch,
                  vtepIp, agentVersion, startedAt}

HostAllocation (cluster-scoped, name = host name): the scheduler's claims on one host
  spec   scheduler: {allocations{<server uid>: {vcpus, memoryMb, diskGb, server, namespace,
                                              claim, claimedAt}}}
  Claims are CAS on this object's resourceVersion, so no two schedulers overcommit a
  host; it is apart from the Host because every agent watches Hosts (VTEPs) and a
  claim must not be streamed to all of them.

Lease (cluster-scoped, name = host name): the agent's heartbeat
  spec {holderIdentity, renewTime (epoch seconds), leaseDurationSeconds}

ConsoleLog (namespaced, name = server uuid): the agent uploads the serial console tail
  spec {text, updated}
InstanceAction (namespaced, name = request id): one per tenant action on a server,
  spec {server, action, requestId, userId, projectId, startTime, message}
  the steps are Events labelled with the request id (observe/events.py).
Flavor (cluster, name = flavor id): spec {name, vcpus, ram, disk, ephemeral, swap,
  rxtxFactor, isPublic, extraSpecs{}, description, projects[] (access list)}
Keypair (cluster, name = "<user id>.<sha of key name>"): spec {name, userId, publicKey,
  fingerprint, type}
ServerGroup (namespaced): spec {name, policy, rules{}, userId}
QuotaSet (namespaced, name = "compute"): spec {instances, cores, ram, ...} overrides
"""

from __future__ import annotations

import time
from typing import Any

from .registry import KindInfo, register

SERVER = "Server"
FLAVOR = "Flavor"
KEYPAIR = "Keypair"
SERVER_GROUP = "ServerGroup"
INSTANCE_ACTION = "InstanceAction"
HOST = "Host"
HOST_ALLOCATION = "HostAllocation"
LEASE = "Lease"
CONSOLE_LOG = "ConsoleLog"
QUOTA_SET = "QuotaSet"
QUOTA_USAGE = "QuotaUsage"  # a project's counted usage (kumo.core.quotas); kumo writes it
QUOTA_CLAIM = "QuotaClaim"  # one counted object's share of it

HOST_LABEL = "kumo.io/host"
# Server annotations the compute facade writes and the metadata service reads
ANN_LAUNCH_INDEX = "compute.kumo.io/launch-index"
ANN_HOSTNAME = "compute.kumo.io/hostname"
AGENT_FINALIZER = "kumo.io/compute-agent"
LEASE_SECONDS = 30

# Nova power_state values
NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED = 0, 1, 3, 4, 6

register(KindInfo(SERVER, "servers", namespaced=True))
register(KindInfo(FLAVOR, "flavors", namespaced=False, admin_only=True))
register(KindInfo(KEYPAIR, "keypairs", namespaced=False, admin_only=True))
register(KindInfo(SERVER_GROUP, "servergroups", namespaced=True))
register(KindInfo(INSTANCE_ACTION, "instanceactions", namespaced=True))
register(KindInfo(HOST_ALLOCATION, "hostallocations", namespaced=False, admin_only=True))
register(KindInfo(LEASE, "leases", namespaced=False, admin_only=True))
register(KindInfo(CONSOLE_LOG, "consolelogs", namespaced=True))
register(KindInfo(QUOTA_SET, "quotasets", namespaced=True))
register(KindInfo(QUOTA_USAGE, "quotausages", namespaced=True, admin_only=True))
register(KindInfo(QUOTA_CLAIM, "quotaclaims", namespaced=True, admin_only=True))


def lease_alive(lease: dict[str, Any] | None, now: float | None = None) -> bool:
    """Whether a host's Lease (its agent's heartbeat) is still fresh."""
    if lease is None:
        return False
    spec = lease.get("spec") or {}
    now = time.time() if now is None else now
    return now < float(spec.get("renewTime", 0)) + float(
        spec.get("leaseDurationSeconds", LEASE_SECONDS))


def host_allocations(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A HostAllocation's claims by server uid (empty for a missing object)."""
    return dict(((obj or {}).get("spec") or {}).get("allocations") or {})


def nonce(spec: dict[str, Any], key: str) -> int:
    """The request counter of spec.reboot / spec.rebuild (0 when never asked)."""
    return int((spec.get(key) or {}).get("nonce", 0))


def recovery_requested(server: dict[str, Any]) -> str | None:
    """"rebuild" or "reboot" when a server in ERROR asks (rebuild, hard reboot) to be
    built again and nobody has taken the request yet; None otherwise.

    The scheduler takes it (claims a host, marks the nonces observed, status
    ``building`` with ``recover``); the host agent then recreates the VM.
    """
    spec, st = server.get("spec") or {}, server.get("status") or {}
    if st.get("vmState") != "error" or (server.get("metadata") or {}).get("deletionTimestamp"):
        return None
    if nonce(spec, "rebuild") > int(st.get("observedRebuildNonce", 0)):
        return "rebuild"
    hard = str((spec.get("reboot") or {}).get("type", "SOFT")).upper() == "HARD"
    if hard and nonce(spec, "reboot") > int(st.get("observedRebootNonce", 0)):
        return "reboot"
    return None
