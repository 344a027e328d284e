"""The zone-transfer source: kumo's zones handed out by standard DNS (kumo's "mdns").

Secondaries (Knot, BIND, PowerDNS...) ask it, over UDP or TCP on one loopback address:

    SOA     the zone's serial, read from the store (what the status controller compares)
    AXFR    the whole zone (several messages for a large one, TSIG over all of them)
    IXFR    the difference since the client's serial, when that version is in the recent
            history kept here; the whole zone (AXFR-style) otherwise, as RFC 1995 allows

and it answers for the catalog zone (``catalog.kumo.``, RFC 9432 version 2), whose members
are every zone, so a secondary adds and drops zones with no configuration rewrite. Every
query must carry a valid TSIG of a configured key (refused otherwise); answers are signed
with the query's key. It answers nothing else: it is no resolver and no authoritative
server for clients (those are the real servers it feeds). NOTIFYs are sent by
``dns.py`` (the controller) through ``notify``.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import OrderedDict
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring

from kumo import store
from kumo.common.informer import Informer
from kumo.model import dns as dm
from kumo.observe import metrics
from kumo.store import StoreSource

from . import dns_zonedata as zd

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Version = tuple[zd.Record, frozenset[zd.Record]]
HISTORY = 8  # versions kept per zone for IXFR
WAIT = 0.5  # how long a version waits for the recordset watch before reading the store
PER_MESSAGE = 400  # records per transfer message
MAX_TEXT = 32768  # presentation-format bytes per message (wire format is no larger)
XFR_TOTAL = metrics.Counter("kumo_dns_xfr_total", "zone transfers served",
                            ["type"], registry=metrics.REGISTRY)
XFR_SECONDS = metrics.Histogram("kumo_dns_xfr_seconds", "time to serve a zone transfer",
                                ["type"], registry=metrics.REGISTRY)


class XfrSource:
    """Answers SOA/AXFR/IXFR from the store; ``zones_by_name`` is fed by the controller."""

    def __init__(self, objects: store.ObjectStore, keyring: dict[str, str]) -> None:
        self.objects = objects
        self.own_keys = dict(keyring)
        self.keyring = dns.tsigkeyring.from_text(keyring)
        self.zones_by_name: dict[str, tuple[str, str]] = {}  # name -> (project, zone id)
        self.history: dict[str, OrderedDict[int, Version]] = {}
        self.bodies: dict[str, tuple[int, list[Any]]] = {}
        self.by_zone: dict[str, dict[tuple[str, str], Obj]] = {}
        self.sets = Informer(StoreSource(objects, dm.DNS_RECORDSET), on_event=self._indexed)
        self.catalog_serial = int(time.time())
        self.catalog_members: frozenset[str] = frozenset()
        self.address: tuple[str, int] | None = None
        self._servers: list[Any] = []
        self._watch: asyncio.Task[None] | None = None

    def set_keys(self, extra: dict[str, tuple[str, str]]) -> None:
        """Accept the operator's TSIG keys (``DnsTsigKey``: name → (algorithm, secret))
        beside kumo's own."""
        self.keyring = dns.tsigkeyring.from_text({**extra, **self.own_keys})

    # ---- the data -------------------------------------------------------------------
    def set_members(self, names: frozenset[str]) -> bool:
        """The catalog's members; True when they changed (the serial is bumped)."""
        if names == self.catalog_members:
            return False
        for gone in self.catalog_members - names:
            self.history.pop(gone, None)
            self.bodies.pop(gone, None)
        self.catalog_members = names
        self.catalog_serial = max(self.catalog_serial + 1, int(time.time()))
        return True

    async def version(self, name: str) -> Version | None:
        """The zone's current content, read from the store (consistent with its serial:
        recordsets are written before the serial that announces them). A serial already
        served is served again exactly as it was: a change written after the serial was
        read belongs to the next serial, and IXFR differences must start from what each
        secondary really holds."""
        if name == zd.CATALOG:
            return zd.catalog_records(self.catalog_serial, self.catalog_members)
        where = self.zones_by_name.get(name)
        if where is None:
            return None
        project, zone_id = where
        zone = await self.objects.try_get(dm.DNS_ZONE, project, zone_id)
        if zone is None:
            return None
        kept = self.history.setdefault(name, OrderedDict())
        served = kept.get(int(zone["spec"]["serial"]))
        if served is not None:  # one serial, one content, whoever asks (IXFR diffs rely on it)
            return served
        ver = zd.zone_records(zone, await self._sets(zone))
        kept[_serial(ver[0])] = ver
        while len(kept) > HISTORY:
            kept.popitem(last=False)
        return ver

    async def _sets(self, zone: Obj) -> list[Obj]:
        """The zone's recordsets: from the watch-fed copy once it has seen the last write
        the zone's serial announces (``recordsRevision``), else from the store."""
        md = zone["metadata"]
        need = int(zone["spec"].get("recordsRevision") or 0)
        if self.sets.synced.is_set() and await self.sets.wait_for_revision(need, WAIT):
            return [rs for rs in self.by_zone.get(md["name"], {}).values()
                    if rs["metadata"]["namespace"] == md["namespace"]]
        return (await self.objects.list(dm.DNS_RECORDSET, md["namespace"],
                                        label_selector=f"{dm.ZONE_LABEL}={md['name']}")).items

    def _indexed(self, typ: str, rs: Obj) -> None:
        zone_id = (rs.get("spec") or {}).get("zoneId") or ""
        key = (rs["metadata"]["namespace"], rs["metadata"]["name"])
        if typ == "DELETED":
            self.by_zone.get(zone_id, {}).pop(key, None)
        else:
            self.by_zone.setdefault(zone_id, {})[key] = rs

    async def _full(self, name: str, ver: Version) -> list[Any]:
        """The whole zone's RRsets, built once per served serial."""
        serial = _serial(ver[0])
        cached = self.bodies.get(name)
        if cached is None or cached[0] != serial:
            cached = (serial, await asyncio.to_thread(zd.axfr_body, *ver))
            self.bodies[name] = cached
        return cached[1]

    async def soa(self, name: str) -> zd.Record | None:
        if name == zd.CATALOG:
            return zd.catalog_records(self.catalog_serial, ())[0]
        where = self.zones_by_name.get(name)
        zone = None if where is None else await self.objects.try_get(dm.DNS_ZONE, *where)
        return None if zone is None else zd.soa_record(zone)

    # ---- answering --------------------------------------------------------------------
    def parse(self, wire: bytes) -> dns.message.Message | None:
        try:
            return dns.message.from_wire(wire, keyring=self.keyring)
        except (dns.exception.DNSException, ValueError, struct.error):
            return None

    async def answer(self, query: dns.message.Message, tcp: bool) -> list[bytes]:
        """Wire messages answering ``query`` (signed with its key)."""
        if not query.had_tsig or not query.question:
            return [_refused(query)]
        q = query.question[0]
        name = q.name.to_text().lower()
        if q.rdtype == dns.rdatatype.SOA:
            soa = await self.soa(name)
            if soa is None:
                return [_refused(query)]
            resp = dns.message.make_response(query)
            resp.flags |= dns.flags.AA
            resp.answer.append(zd.soa_rrset(soa))
            return [resp.to_wire(max_size=65535 if tcp else 0)]
        if q.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR) and tcp:
            return await self._transfer(query, name, q.rdtype)
        return [_refused(query)]

    async def _transfer(self, query: dns.message.Message, name: str,
                        rdtype: dns.rdatatype.RdataType) -> list[bytes]:
        start = time.perf_counter()
        old = self.history.get(name, OrderedDict()).copy()
        ver = await self.version(name)
        if ver is None:
            return [_refused(query)]
        have = _client_serial(query) if rdtype == dns.rdatatype.IXFR else None
        if have is not None and have == _serial(ver[0]):
            body, kind = [zd.soa_rrset(ver[0])], "IXFR-UPTODATE"
        elif have is not None and have in old:
            body, kind = zd.ixfr_body(*old[have], *ver), "IXFR"
        else:
            body = await self._full(name, ver)
            kind = "AXFR" if rdtype == dns.rdatatype.AXFR else "IXFR-AXFR"
        # rendering and signing a large zone takes a while: off the event loop, so SOA
        # answers and NOTIFYs go on meanwhile
        wires = await asyncio.to_thread(_messages, query, body)
        XFR_TOTAL.labels(kind).inc()
        XFR_SECONDS.labels(kind).observe(time.perf_counter() - start)
        return wires

    # ---- sockets ----------------------------------------------------------------------
    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        tcp = await asyncio.start_server(self._tcp_client, host, port)
        bound = tcp.sockets[0].getsockname()[:2]
        udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=bound)
        self._servers = [tcp, udp]
        self._watch = asyncio.get_running_loop().create_task(self.sets.run())
        self.address = (bound[0], int(bound[1]))
        return self.address

    def close(self) -> None:
        for s in self._servers:
            s.close()
        self._servers = []
        if self._watch is not None:
            self._watch.cancel()

    async def _tcp_client(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), 30)
                wire = await reader.readexactly(struct.unpack("!H", head)[0])
                query = self.parse(wire)
                if query is None:
                    break
                for out in await self.answer(query, tcp=True):
                    writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("zone transfer failed")
        finally:
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, source: XfrSource) -> None:
        self.source = source
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = self.source.parse(data)
        if query is None or query.opcode() != dns.opcode.QUERY:
            return  # NOTIFY answers and garbage: nothing to say
        asyncio.get_running_loop().create_task(self._reply(query, addr))

    async def _reply(self, query: dns.message.Message, addr: tuple[str, int]) -> None:
        for out in await self.source.answer(query, tcp=False):
            if self.transport is not None:
                self.transport.sendto(out, addr)


def _serial(soa: zd.Record) -> int:
    return int(soa[3].split()[2])


def _client_serial(query: dns.message.Message) -> int | None:
    for rrset in query.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None


def _refused(query: dns.message.Message) -> bytes:
    resp = dns.message.make_response(query)
    resp.set_rcode(dns.rcode.REFUSED if query.had_tsig else dns.rcode.NOTAUTH)
    return resp.to_wire()


def _messages(query: dns.message.Message, body: list[Any]) -> list[bytes]:
    """The transfer split into messages (≤ PER_MESSAGE records and ~32 KiB of text each,
    well under TCP's 64 KiB), TSIG-chained across them."""
    chunks: list[list[Any]] = [[]]
    count = size = 0
    for rrset in body:
        n, text = len(rrset), len(rrset.to_text())
        if chunks[-1] and (count + n > PER_MESSAGE or size + text > MAX_TEXT):
            chunks.append([])
            count = size = 0
        chunks[-1].append(rrset)
        count, size = count + n, size + text
    wires, ctx = [], None
    for i, chunk in enumerate(chunks):
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.AA
        if i:
            resp.question = []
        resp.answer.extend(chunk)
        wires.append(resp.to_wire(multi=True, tsig_ctx=ctx, max_size=65535))
        ctx = resp.tsig_ctx
    return wires
