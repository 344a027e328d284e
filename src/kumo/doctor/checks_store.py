"""Store invariants: the writer commits, and the store's own watchers keep up.

Every controller, agent and API write goes through the store's one writer thread, and
every cache is fed by a store watcher: a stalled writer or a watcher whose queue grows
shows up far away (builds that never finish, ports that stay DOWN), so it is named here.
"""

from __future__ import annotations

from typing import Any

from kumo.drivers import procs

from .findings import Finding, Link, check
from .snapshot import Snapshot

Obj = dict[str, Any]


@check("store-writer")
async def store_writer(snap: Snapshot) -> list[Finding]:
    """A commit in flight too long, or commits failing now (the database is locked)."""
    w = snap.stats.get("writer") or {}
    path = str(snap.stats.get("path") or "")
    since, err_at = w.get("batchSince"), w.get("lastErrorAt")
    stalled = since is not None and snap.now - float(since) >= snap.settings[
        "store-writer.seconds"]
    failing = err_at is not None and float(err_at) > float(w.get("lastCommitAt") or 0)
    if not (stalled or failing):
        return []
    holders = [h for h in procs.file_holders(path) if h["pid"] != procs.own_pid()]
    what = (f"a commit has been in flight for {snap.now - float(since):.1f} s with "
            f"{snap.stats.get('queued_writes', 0)} writes queued behind it") if stalled else (
            f"the last commit failed: {w.get('lastError')}")
    cause = ("another process holds the database open and locked: " + ", ".join(
        f"pid {h['pid']} ({h['cmdline'][:60]})" for h in holders[:3])) if holders else (
        "the database file cannot be written (a lock held elsewhere, a full or slow disk)")
    return [Finding("store-writer", "critical", [
        Link("every write to the cloud (API calls, agents' status, leases) waits or fails "
             "with 'database is locked'", "kumo api", {}),
        Link(f"the store's writer is stalled: {what}", "store (store/sqlite.py)",
             {"writer": w, "queuedWrites": snap.stats.get("queued_writes")}),
        Link(cause + f" ({path})", "outside kumo" if holders else "the API host's disk",
             {"holders": holders[:5], "path": path})],
        "stop the process holding the database (nothing but `kumo api` may open it); "
        "queued writes then commit", [], [])]


@check("store-watch-lag")
async def store_watch_lag(snap: Snapshot) -> list[Finding]:
    """A store watcher with events queued for too long: its consumer does not read."""
    out = []
    for w in snap.stats.get("watch_lag") or []:
        if float(w["seconds"]) < snap.settings["store-watch-lag.seconds"]:
            continue
        kind = w.get("kind") or "every kind"
        out.append(Finding("store-watch-lag", "warning", [
            Link(f"a watch on {kind} sees changes late ({w['queued']} events queued)",
                 "watch client", {"watcher": w}),
            Link(f"a store watcher of {kind} has had events waiting for {w['seconds']:.0f} s: "
                 "its consumer (a watch stream whose client stopped reading) does not keep "
                 "up; the store closes it with 410 Gone when its queue is full",
                 "watch client (store/watchhub.py)", {"watcher": w})],
            "find the slow client (a controller or agent watching this kind); it re-lists "
            "after Gone", [], []))
    return out
