"""The DNS serving controller: feeds the zone-transfer source, NOTIFYs, judges status.

For every zone (level-triggered, from a watch-fed cache):

- the transfer source learns the zone's name and the catalog's members; a new serial
  (or a new member) sends NOTIFY, TSIG-signed, to every target;
- each target is asked for the zone's SOA; when all serve the store's serial the zone
  is ACTIVE (status.serial = that serial); until then it is PENDING, and after
  ``error_after`` seconds ERROR with the reason (which target serves what). An ERROR zone
  keeps being asked and turns ACTIVE when its targets catch up. Status comes from asking,
  never from assuming.

Targets are real authoritative servers (Knot, BIND...) run as secondaries of the source.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdatatype
import dns.tsigkeyring

from kumo import store
from kumo.common.informer import Informer
from kumo.model import dns as dm
from kumo.model import events
from kumo.observe import metrics

from .dns_xfr import XfrSource
from .dns_zonedata import CATALOG, soa_rrset

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NOTIFY_TOTAL = metrics.Counter("kumo_dns_notify_total", "NOTIFY messages sent",
                               ["target", "result"], registry=metrics.REGISTRY)
ZONES_BY_STATUS = metrics.Gauge("kumo_dns_zones", "zones by status", ["status"],
                                registry=metrics.REGISTRY)
LAG = metrics.Gauge("kumo_dns_serial_lag", "store serial minus the serial a target serves",
                    ["zone", "target"], registry=metrics.REGISTRY)


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int


@dataclass
class DnsController:
    objects: store.ObjectStore
    source: XfrSource
    targets: list[Target]
    key: tuple[str, str]  # (name, base64 secret) used to sign NOTIFYs
    error_after: float = 30.0
    poll: float = 0.02
    pending_since: dict[str, float] = field(default_factory=dict)
    notified: dict[str, int] = field(default_factory=dict)
    next_at: dict[str, float] = field(default_factory=dict)
    interval: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from kumo.store import StoreSource

        self.zones = Informer(StoreSource(self.objects, dm.DNS_ZONE), on_event=self._changed)
        self.tsig = Informer(StoreSource(self.objects, dm.DNS_TSIG_KEY), on_event=self._keys)
        self.wake = asyncio.Event()
        self.keyring = dns.tsigkeyring.from_text({self.key[0]: self.key[1]})

    async def _changed(self, typ: str, obj: Obj) -> None:
        self.wake.set()

    def _keys(self, typ: str, obj: Obj) -> None:
        """Keys whose secret is base64 (what DNS TSIG needs); others are stored, not used."""
        usable = {}
        for k in self.tsig.values():
            try:
                base64.b64decode(k["spec"]["secret"], validate=True)
            except (binascii.Error, ValueError):
                continue
            usable[k["spec"]["name"]] = (k["spec"].get("algorithm", "hmac-sha256"),
                                         k["spec"]["secret"])
        self.source.set_keys(usable)

    async def run(self) -> None:
        await asyncio.gather(self.zones.run(), self.tsig.run(), self._loop())

    async def _loop(self) -> None:
        await self.zones.synced.wait()
        delay = self.poll
        while True:
            self.wake.clear()  # before the pass: a change seen during it wakes the next
            busy = await self.pass_once()
            delay = self.poll if busy else min(delay * 2, 2.0)
            try:
                await asyncio.wait_for(self.wake.wait(), delay)
                delay = self.poll
            except TimeoutError:
                pass

    async def pass_once(self) -> bool:
        """One look at every zone; True while some zone is not settled."""
        zones = self.zones.values()
        self.source.zones_by_name = {z["spec"]["name"]: (z["metadata"]["namespace"],
                                                         z["metadata"]["name"]) for z in zones}
        if self.source.set_members(frozenset(self.source.zones_by_name)):
            await self._notify_all(CATALOG)
        now = time.monotonic()
        unsettled = [z for z in zones if not _settled(z)]
        todo = [z for z in unsettled if self._due(z, now)]
        await asyncio.gather(*(self._judge(z) for z in todo))
        counts = {"ACTIVE": 0, "PENDING": 0, "ERROR": 0}
        for z in zones:
            counts[_shown(z)] = counts.get(_shown(z), 0) + 1
        for k, n in counts.items():
            ZONES_BY_STATUS.labels(k).set(n)
        return bool(unsettled)

    def _due(self, zone: Obj, now: float) -> bool:
        """A new serial is due at once; a zone still behind is asked again after a
        growing pause (20 ms up to 0.5 s while PENDING, 2 s once in ERROR)."""
        zid = zone["metadata"]["name"]
        if self.notified.get(zid) != int(zone["spec"]["serial"]):
            self.interval[zid] = self.poll
            return True
        return now >= self.next_at.get(zid, 0.0)

    async def _judge(self, zone: Obj) -> None:
        md, spec = zone["metadata"], zone["spec"]
        zid, serial = md["name"], int(spec["serial"])
        if self.notified.get(zid) != serial:
            self.notified[zid] = serial
            self.pending_since[zid] = time.monotonic()
            await self._notify_all(spec["name"])
        served = dict(zip([t.name for t in self.targets], await asyncio.gather(
            *(self.serial_at(t, spec["name"]) for t in self.targets)), strict=True))
        for t, s in served.items():
            LAG.labels(spec["name"], t).set(serial - s if s is not None else serial)
        behind = {t: s for t, s in served.items() if s is None or _older(s, serial)}
        now = time.monotonic()
        since = self.pending_since.setdefault(zid, now)
        step = self.interval.get(zid, self.poll)
        self.interval[zid] = min(step * 1.5, 0.5)
        self.next_at[zid] = now + step
        if not behind:
            await self._write(zone, "ACTIVE", served, None)
        elif now - since > self.error_after:
            reason = "; ".join(f"{t} serves {'nothing' if s is None else s}, not {serial}"
                               for t, s in sorted(behind.items()))
            self.next_at[zid] = now + 2.0
            await self._write(zone, "ERROR", served, reason)
            await self._notify_all(spec["name"])  # a target back from the dead hears it

    async def _write(self, zone: Obj, status: str, served: dict[str, int | None],
                     reason: str | None) -> None:
        md = zone["metadata"]
        serial = int(zone["spec"]["serial"])
        st = zone.get("status") or {}
        if st.get("status") == status and st.get("serial") == serial and \
                st.get("reason") == reason:
            return

        def change(cur: Obj) -> Any:
            if int(cur["spec"]["serial"]) != serial:
                return store.UNCHANGED  # a newer change: judged on the next pass
            cur["status"] = {"status": status, "serial": serial, "reason": reason,
                             "action": "NONE" if status == "ACTIVE" else
                             (st.get("action") or "UPDATE"),
                             "served": {k: v for k, v in served.items() if v is not None},
                             "updatedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000000",
                                                        time.gmtime())}
            return None

        try:
            await self.objects.mutate(dm.DNS_ZONE, md["namespace"], md["name"], change)
        except store.NotFound:
            return
        await events.record(self.objects, zone, "dns-controller", f"Zone{status.title()}",
                            reason or f"serial {serial} served by every target",
                            type_="Normal" if status == "ACTIVE" else "Warning")

    async def serial_at(self, target: Target, name: str) -> int | None:
        """The serial ``target`` serves for ``name`` (None: not served or unreachable)."""
        q = dns.message.make_query(name, dns.rdatatype.SOA)
        try:
            r = await dns.asyncquery.udp(q, target.host, port=target.port, timeout=0.5)
        except (dns.exception.DNSException, OSError):
            return None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return int(rrset[0].serial)
        return None

    async def _notify_all(self, name: str) -> None:
        soa = await self.source.soa(name)
        await asyncio.gather(*(self._notify(t, name, soa) for t in self.targets))

    async def _notify(self, target: Target, name: str, soa: Any) -> None:
        """NOTIFY with the new SOA in its answer (RFC 1996 allows it: BIND reads the
        serial from it and skips a refresh when it already has that serial)."""
        msg = dns.message.make_query(name, dns.rdatatype.SOA)
        msg.set_opcode(dns.opcode.NOTIFY)
        msg.flags |= dns.flags.AA
        if soa is not None:
            msg.answer.append(soa_rrset(soa))
        msg.use_tsig(self.keyring, keyname=self.key[0])
        try:
            await dns.asyncquery.udp(msg, target.host, port=target.port, timeout=1.0)
            NOTIFY_TOTAL.labels(target.name, "ok").inc()
        except (dns.exception.DNSException, OSError):
            NOTIFY_TOTAL.labels(target.name, "failed").inc()

    def debug_state(self) -> dict[str, Any]:
        return {"mdns": self.source.address, "worker": True,
                "targets": [t.__dict__ for t in self.targets],
                "catalog_serial": self.source.catalog_serial,
                "zones": self.zones.debug_state()}


def _older(a: int, b: int) -> bool:
    """RFC 1982 serial arithmetic: ``a`` is before ``b``."""
    return a != b and ((b - a) % 2**32) < 2**31


def _settled(zone: Obj) -> bool:
    st = zone.get("status") or {}
    return st.get("serial") == zone["spec"]["serial"] and st.get("status") == "ACTIVE"


def _shown(zone: Obj) -> str:
    st = zone.get("status") or {}
    return st.get("status", "PENDING") if st.get("serial") == zone["spec"]["serial"] \
        else "PENDING"
