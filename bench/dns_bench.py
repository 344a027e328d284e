"""DNS serving: kumo's zone-transfer source feeding real Knot and BIND secondaries.

Starts (all on 127.0.0.1, in a temp dir, all stopped at the end): a SQLite store, the
zone-transfer source, the status controller, knotd and named as catalog secondaries.
Prints:

- zone create → ACTIVE (the controller saw both servers serve the serial): p50/p95
- recordset create → answered by every target (UDP queries to both servers until the
  record is there): p50/p95 over ``--changes`` creates
- a zone of ``--big`` recordsets: time until both serve it (AXFR), then one change →
  answered by both (IXFR)
- queries/s Knot answers for a kumo-fed zone vs the same zone loaded from a file into the
  same Knot (``knotc`` adds it), same client, alternating samples

Usage: .venv/bin/python bench/dns_bench.py [--changes 100] [--zones 20] [--big 10000] [--qps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import dns.asyncquery
import dns.message

from kumo import store
from kumo.agent import dns as agent_dns
from kumo.control.dns import DnsController, Target
from kumo.control.dns_xfr import XfrSource
from kumo.core import dns as zones
from kumo.core import dns_records as records
from kumo.core.actor import Actor
from kumo.drivers import bind, knot
from kumo.model import dns as dm

ACTOR = Actor("bench", "bench", False, True)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def answered(servers: list[tuple[str, int]], name: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    pending = list(servers)
    while pending and time.monotonic() < deadline:
        for where in list(pending):
            q = dns.message.make_query(name, "A")
            try:
                r = await dns.asyncquery.udp(q, where[0], port=where[1], timeout=1)
            except Exception:  # noqa: BLE001 - a server restarting: ask again
                continue
            if r.answer:
                pending.remove(where)
        if pending:
            await asyncio.sleep(0.005)
    return not pending


async def active(objects: store.ObjectStore, zone_id: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        z = await objects.get(dm.DNS_ZONE, "bench", zone_id)
        st = z.get("status") or {}
        if st.get("status") == "ACTIVE" and st.get("serial") == z["spec"]["serial"]:
            return True
        await asyncio.sleep(0.005)
    return False


async def bench(args: argparse.Namespace, tmp: Path) -> None:
    objects = await store.open_sqlite(str(tmp / "store.db"))
    key = ("kumo-xfr", base64.b64encode(os.urandom(32)).decode())
    source = XfrSource(objects, {key[0]: key[1]})
    primary = await source.start("127.0.0.1", 0)
    k = agent_dns.secondary(tmp / "knot", primary, key)
    b = bind.Secondary(tmp / "bind", ("127.0.0.1", agent_dns.free_port()), primary, *key)
    servers = [k.listen, b.listen]
    ctl = DnsController(objects, source, [Target("knot", *k.listen), Target("bind", *b.listen)],
                        key, error_after=60)
    knot.start(k)
    bind.start(b)
    run = asyncio.create_task(ctl.run())
    try:
        await asyncio.sleep(1.0)
        await zones.limits(objects, "bench")
        await objects.create({"apiVersion": "kumo.io/v1", "kind": "QuotaSet",
                              "metadata": {"name": dm.QUOTA_NAME, "namespace": "bench"},
                              "spec": {"zones": -1, "zone_recordsets": -1,
                                       "zone_records": -1}})
        if args.zones:
            await _zones(objects, args.zones)
        if args.changes:
            await _changes(objects, servers, args.changes)
        if args.big:
            await _big(objects, servers, args.big)
        if args.qps:
            await _qps(objects, k, args.qps)
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await knot.stop(k)
        await bind.stop(b)
        source.close()
        await objects.backend.close()


async def _zones(objects: store.ObjectStore, n: int) -> None:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        z = await zones.create_zone(objects, ACTOR, {"name": f"z{i}.bench.test.",
                                                      "email": "h@bench.test"})
        assert await active(objects, z["metadata"]["name"]), "zone never ACTIVE"
        times.append(time.perf_counter() - t0)
    print(f"zone create -> ACTIVE (knot+bind), {n} zones: p50 {statistics.median(times):.3f} s"
          f"  p95 {pct(times, 95):.3f} s  max {max(times):.3f} s")


async def _changes(objects: store.ObjectStore, servers: list[tuple[str, int]], n: int) -> None:
    z = await zones.create_zone(objects, ACTOR, {"name": "rs.bench.test.",
                                                  "email": "h@bench.test"})
    await active(objects, z["metadata"]["name"])
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fresh = await objects.get(dm.DNS_ZONE, "bench", z["metadata"]["name"])
        await records.create_recordset(objects, ACTOR, fresh, {
            "name": f"h{i}.rs.bench.test.", "type": "A", "records": [f"10.0.{i // 250}.{i % 250}"]})
        assert await answered(servers, f"h{i}.rs.bench.test."), f"h{i} never answered"
        times.append(time.perf_counter() - t0)
    print(f"recordset create -> answered by knot and bind, {n} changes: "
          f"p50 {statistics.median(times):.3f} s  p95 {pct(times, 95):.3f} s  "
          f"max {max(times):.3f} s")


async def _big(objects: store.ObjectStore, servers: list[tuple[str, int]], n: int) -> None:
    z = await zones.create_zone(objects, ACTOR, {"name": "big.bench.test.",
                                                  "email": "h@bench.test"})
    zid = z["metadata"]["name"]
    t0 = time.perf_counter()
    last = 0
    for i in range(n):  # the importer's path: recordsets written, then one serial bump
        made = await objects.create(zones.recordset_object("bench", zid, str(uuid.uuid4()), {
            "name": f"r{i}.big.bench.test.", "type": "A",
            "records": [f"10.{i // 62500}.{i // 250 % 250}.{i % 250}"], "ttl": None,
            "managed": False}))
        last = zones.revision_of(made)
    written = time.perf_counter() - t0
    t1 = time.perf_counter()
    await zones.bump_serial(objects, await objects.get(dm.DNS_ZONE, "bench", zid),
                            records_revision=last)
    ok = await answered(servers, f"r{n - 1}.big.bench.test.", timeout=120)
    print(f"{n} recordsets: store writes {written:.1f} s; served by knot+bind (AXFR) "
          f"{time.perf_counter() - t1:.2f} s (ok={ok})")
    times = []
    for i in range(5):
        t2 = time.perf_counter()
        fresh = await objects.get(dm.DNS_ZONE, "bench", zid)
        await records.create_recordset(objects, ACTOR, fresh, {
            "name": f"new{i}.big.bench.test.", "type": "A", "records": ["10.9.9.9"]})
        assert await answered(servers, f"new{i}.big.bench.test.", timeout=60)
        times.append(time.perf_counter() - t2)
    print(f"one change in the {n}-recordset zone -> answered by both (IXFR), 5 changes: "
          f"p50 {statistics.median(times):.3f} s  max {max(times):.3f} s")


def _blast(where: tuple[str, int], name: str, seconds: float, window: int = 64) -> float:
    """Answers per second from one UDP socket keeping ``window`` queries in flight."""
    import socket

    wires = []
    for i in range(window):
        q = dns.message.make_query(name, "A")
        q.id = i
        wires.append(q.to_wire())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(where)
    sock.settimeout(0.5)
    for w in wires:
        sock.send(w)
    answered, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            for w in wires:  # lost in flight: refill the window
                sock.send(w)
            continue
        answered += 1
        sock.send(wires[int.from_bytes(data[:2], "big") % window])
    sock.close()
    return answered / seconds


async def _qps(objects: store.ObjectStore, k: knot.Secondary, seconds: float) -> None:
    """The same zone served by the same Knot: fed by kumo vs loaded from a file."""
    import subprocess

    from kumo.core import dns_io

    fed = await objects.get(dm.DNS_ZONE, "bench", (await _zone_id(objects, "rs.bench.test.")))
    text = (await dns_io.export_zone(objects, fed)).replace("rs.bench.test.", "file.bench.test.")
    path = k.run_dir / "file.bench.test.zone"
    path.write_text(text)
    sock = str(k.run_dir / "knot.sock")
    for cmd in (["conf-begin"], ["conf-set", "zone[file.bench.test.]"],
                ["conf-set", "zone[file.bench.test.].template", "static"],
                ["conf-set", "zone[file.bench.test.].file", str(path)], ["conf-commit"]):
        await asyncio.to_thread(subprocess.run, ["knotc", "-s", sock, *cmd], check=False,
                                capture_output=True)
    assert await answered([k.listen], "h1.file.bench.test."), "file zone not served"
    rates: dict[str, list[float]] = {"kumo": [], "file": []}
    for _ in range(2):
        for label, name in (("kumo", "h1.rs.bench.test."), ("file", "h1.file.bench.test.")):
            rates[label].append(await asyncio.to_thread(_blast, k.listen, name, seconds))
    print("queries/s answered by Knot, one client socket, 64 in flight: "
          + ", ".join(f"{label} zone {statistics.mean(v):.0f}" for label, v in rates.items()))


async def _zone_id(objects: store.ObjectStore, name: str) -> str:
    for z in (await objects.list(dm.DNS_ZONE, "bench")).items:
        if z["spec"]["name"] == name:
            return str(z["metadata"]["name"])
    raise LookupError(name)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--changes", type=int, default=100)
    p.add_argument("--zones", type=int, default=20)
    p.add_argument("--big", type=int, default=10000)
    p.add_argument("--qps", type=float, default=3.0, help="seconds per query-rate sample")
    args = p.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 shared cores)")
    with tempfile.TemporaryDirectory(prefix="kumo-dns-bench-") as tmp:
        asyncio.run(bench(args, Path(tmp)))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
