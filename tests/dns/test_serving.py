"""Real authoritative servers (Knot and BIND from Debian) as secondaries of kumo's
zone-transfer source: every record type answered, NXDOMAIN/NODATA with the SOA, TCP for
a large answer, TSIG required, catalog zones, IXFR, and the faults (a server killed,
a target unreachable) with an honest zone status. Everything binds to 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import pytest

from kumo import store
from kumo.agent import dns as agent_dns
from kumo.control.dns import DnsController, Target
from kumo.control.dns_xfr import XfrSource
from kumo.core import dns as zones
from kumo.core import dns_records as records
from kumo.core.actor import Actor
from kumo.drivers import bind, knot
from kumo.model import dns as dm

pytestmark = pytest.mark.skipif(not (knot.available() and bind.available()),
                                reason="knotd and named (Debian knot, bind9) are needed")
KEY = "kumo-xfr"


@dataclass
class Serving:
    objects: store.ObjectStore
    source: XfrSource
    ctl: DnsController
    knot: knot.Secondary
    bind: bind.Secondary
    secret: str
    actor: Actor = Actor("proj", "user", False, True)

    async def zone(self, name: str) -> dict[str, Any]:
        return await zones.create_zone(self.objects, self.actor,
                                       {"name": name, "email": f"h@{name.rstrip('.')}"})

    async def fresh(self, zone: dict[str, Any]) -> dict[str, Any]:
        return await self.objects.get(dm.DNS_ZONE, "proj", zone["metadata"]["name"])

    async def rs(self, zone: dict[str, Any], name: str, rtype: str, data: list[str]) -> Any:
        return await records.create_recordset(self.objects, self.actor, await self.fresh(zone),
                                              {"name": name, "type": rtype, "records": data})

    async def status(self, zone: dict[str, Any], want: str, timeout: float = 15) -> Any:
        async def check() -> Any:
            z = await self.fresh(zone)
            st = z.get("status") or {}
            return z if st.get("status") == want and st.get("serial") == z["spec"]["serial"] \
                else None
        return await until(check, timeout)


async def until(check: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.05)


async def ask(where: tuple[str, int], name: str, rtype: str, *, tcp: bool = False,
              payload: int | None = None) -> dns.message.Message:
    q = dns.message.make_query(name, rtype, use_edns=payload is not None, payload=payload or 0)
    if tcp:
        return await dns.asyncquery.tcp(q, where[0], port=where[1], timeout=2)
    return await dns.asyncquery.udp(q, where[0], port=where[1], timeout=2)


async def answer_on(where: tuple[str, int], name: str, rtype: str,
                    want: Callable[[dns.message.Message], bool], timeout: float = 10) -> Any:
    async def check() -> Any:
        try:
            r = await ask(where, name, rtype)
        except (dns.exception.DNSException, OSError):
            return None
        return r if want(r) else None
    return await until(check, timeout)


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    objects = await store.open_sqlite(str(tmp_path / "store.db"))
    secret = base64.b64encode(os.urandom(32)).decode()
    source = XfrSource(objects, {KEY: secret})
    primary = await source.start("127.0.0.1", 0)
    k = agent_dns.secondary(tmp_path / "knot", primary, (KEY, secret))
    b = bind.Secondary(tmp_path / "bind", ("127.0.0.1", agent_dns.free_port()), primary,
                       KEY, secret)
    ctl = DnsController(objects, source, [Target("knot", *k.listen), Target("bind", *b.listen)],
                        (KEY, secret), error_after=3.0)
    sup = asyncio.create_task(agent_dns.supervise(k, every=0.2))
    bind.start(b)
    run = asyncio.create_task(ctl.run())
    try:
        yield Serving(objects, source, ctl, k, b, secret)
    finally:
        for t in (run, sup):
            t.cancel()
        await asyncio.gather(run, sup, return_exceptions=True)
        await knot.stop(k)
        await bind.stop(b)
        source.close()
        await objects.backend.close()


SAMPLES = {"A": "10.1.1.1", "AAAA": "fd00::1", "CNAME": "a.types.test.",
           "MX": "10 mx.types.test.", "TXT": '"hello world"',
           "SRV": "10 5 5060 sip.types.test.", "PTR": "host.types.test.",
           "NS": "ns.elsewhere.test.", "CAA": '0 issue "ca.example.net"',
           "SSHFP": "4 2 " + "ab" * 32}


async def test_both_servers_answer_every_type(serving: Serving) -> None:
    z = await serving.zone("types.test.")
    assert await serving.status(z, "ACTIVE"), "never served by knot and bind"
    for rtype, data in SAMPLES.items():
        await serving.rs(z, f"{rtype.lower()}.types.test.", rtype, [data])
    assert await serving.status(z, "ACTIVE")
    for where in (serving.knot.listen, serving.bind.listen):
        for rtype, data in SAMPLES.items():
            r = await ask(where, f"{rtype.lower()}.types.test.", rtype)
            section = r.authority if rtype == "NS" else r.answer  # a delegation
            assert section and section[0][0].to_text() == \
                dns.rdata_from(rtype, data), (where, rtype, r)
        nx = await ask(where, "missing.types.test.", "A")
        assert nx.rcode() == dns.rcode.NXDOMAIN
        assert nx.authority[0].rdtype == dns.rdatatype.SOA
        nodata = await ask(where, "a.types.test.", "TXT")
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
        assert nodata.authority[0].rdtype == dns.rdatatype.SOA
        assert not (await ask(where, "a.types.test.", "A")).flags & dns.flags.AD  # no DNSSEC


def _rdata_text(rtype: str, data: str) -> str:
    import dns.name
    import dns.rdata
    import dns.rdataclass

    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), data,
                               origin=dns.name.root, relativize=False).to_text()


dns.rdata_from = _rdata_text  # type: ignore[attr-defined]


async def test_large_answer_falls_back_to_tcp(serving: Serving) -> None:
    z = await serving.zone("big.test.")
    data = [f'"{n:03d} {"x" * 60}"' for n in range(20)]
    await serving.rs(z, "txt.big.test.", "TXT", data)
    assert await serving.status(z, "ACTIVE")
    udp = await ask(serving.knot.listen, "txt.big.test.", "TXT", payload=512)
    assert udp.flags & dns.flags.TC
    tcp = await ask(serving.knot.listen, "txt.big.test.", "TXT", tcp=True)
    assert len(tcp.answer[0]) == 20


async def test_transfers_need_tsig(serving: Serving) -> None:
    await serving.zone("secret.test.")
    addr = serving.source.address
    assert addr is not None
    q = dns.message.make_query("secret.test.", "AXFR")
    r = await dns.asyncquery.tcp(q, addr[0], port=addr[1], timeout=2)
    assert r.rcode() == dns.rcode.NOTAUTH and not r.answer
    signed = dns.message.make_query("secret.test.", "SOA")
    signed.use_tsig(dns.tsigkeyring.from_text({KEY: serving.secret}), keyname=KEY)
    r = await dns.asyncquery.udp(signed, addr[0], port=addr[1], timeout=2)
    assert r.answer and r.had_tsig


async def test_catalog_adds_and_drops_zones(serving: Serving) -> None:
    z = await serving.zone("gone.test.")
    assert await serving.status(z, "ACTIVE")
    await zones.delete_zone(serving.objects, serving.actor, z["metadata"]["name"])
    for where in (serving.knot.listen, serving.bind.listen):
        r = await answer_on(where, "gone.test.", "SOA",
                            lambda r: r.rcode() == dns.rcode.REFUSED)
        assert r is not None, f"{where} still serves a deleted zone"


async def test_knot_killed_is_restarted_and_catches_up(serving: Serving) -> None:
    z = await serving.zone("fault.test.")
    assert await serving.status(z, "ACTIVE")
    pid = knot.pid(serving.knot)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await serving.rs(z, "late.fault.test.", "A", ["10.2.2.2"])
    z2 = await serving.fresh(z)
    assert (z2.get("status") or {}).get("serial") != z2["spec"]["serial"]  # not yet ACTIVE
    r = await answer_on(serving.knot.listen, "late.fault.test.", "A", lambda r: bool(r.answer),
                        timeout=20)
    assert r is not None and knot.pid(serving.knot) not in (None, pid)
    assert await serving.status(z, "ACTIVE", timeout=20)


async def test_unreachable_target_is_pending_then_error_then_recovers(serving: Serving) -> None:
    z = await serving.zone("down.test.")
    assert await serving.status(z, "ACTIVE")
    await bind.stop(serving.bind)
    await serving.rs(z, "x.down.test.", "A", ["10.3.3.3"])
    err = await serving.status(z, "ERROR", timeout=15)
    assert err is not None and "bind serves nothing" in err["status"]["reason"]
    bind.start(serving.bind)
    assert await serving.status(z, "ACTIVE", timeout=30)
    r = await ask(serving.bind.listen, "x.down.test.", "A")
    assert r.answer[0][0].address == "10.3.3.3"


async def test_an_operator_tsig_key_is_accepted(serving: Serving) -> None:
    from kumo.core import dns_admin

    await serving.zone("opkey.test.")
    secret = base64.b64encode(os.urandom(32)).decode()
    await dns_admin.create(serving.objects, Actor.kumo(), dm.DNS_TSIG_KEY, {
        "name": "operator", "algorithm": "hmac-sha512", "secret": secret})
    addr = serving.source.address
    assert addr is not None
    ring = dns.tsigkeyring.from_text({"operator": ("hmac-sha512", secret)})

    async def answered() -> Any:
        q = dns.message.make_query("opkey.test.", "SOA")
        q.use_tsig(ring, keyname="operator", algorithm="hmac-sha512")
        r = await dns.asyncquery.udp(q, addr[0], port=addr[1], timeout=2)
        return r if r.answer else None
    assert await until(answered, 5) is not None
