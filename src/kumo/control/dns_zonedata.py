"""A zone's content as DNS data: stored objects → (name, ttl, type, rdata) tuples.

Pure functions shared by the zone-transfer source: the SOA rendered from the zone's spec
(its serial is the store's), recordsets in presentation format parsed by dnspython, the
catalog zone of RFC 9432 (version 2, one PTR per member zone under ``zones``), and the
difference of two versions for IXFR (RFC 1995).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from kumo.core import dns as zones

Obj = dict[str, Any]
Record = tuple[str, int, str, str]  # (owner name, ttl, type, rdata text)
CATALOG = "catalog.kumo."


def soa_record(zone: Obj) -> Record:
    z = zone["spec"]
    return (z["name"], int(z.get("ttl") or 3600), "SOA", zones.soa_text(zone))


def zone_records(zone: Obj, sets: Iterable[Obj]) -> tuple[Record, frozenset[Record]]:
    """(SOA, every other record) of one version of a zone."""
    ttl = int(zone["spec"].get("ttl") or 3600)
    out: set[Record] = set()
    for rs in sets:
        spec = rs["spec"]
        if spec["type"] == "SOA":
            continue
        rs_ttl = int(spec["ttl"]) if spec.get("ttl") is not None else ttl
        for text in spec.get("records") or []:
            out.add((spec["name"], rs_ttl, spec["type"], text))
    return soa_record(zone), frozenset(out)


def member_label(zone_name: str) -> str:
    """A member's unique label: stable per zone name, as RFC 9432 suggests (a hash)."""
    return hashlib.sha1(dns.name.from_text(zone_name).to_wire()).hexdigest()  # noqa: S324


def catalog_records(serial: int, members: Iterable[str]) -> tuple[Record, frozenset[Record]]:
    soa = (CATALOG, 0, "SOA", f"invalid. invalid. {serial} 3600 600 2147483646 0")
    out = {(CATALOG, 0, "NS", "invalid."), (f"version.{CATALOG}", 0, "TXT", '"2"')}
    for name in members:
        out.add((f"{member_label(name)}.zones.{CATALOG}", 0, "PTR", name))
    return soa, frozenset(out)


_PARSED: dict[tuple[str, str], dns.rdata.Rdata] = {}
_PARSED_MAX = 200_000


def rdata(rtype: str, text: str) -> dns.rdata.Rdata:
    """Parsed once and kept: a 10,000-record zone re-sent after one change parses one."""
    key = (rtype, text)
    found = _PARSED.get(key)
    if found is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        found = _PARSED[key] = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text, origin=dns.name.root,
            relativize=False)
    return found


def to_rrsets(records: Iterable[Record]) -> list[dns.rrset.RRset]:
    """Records grouped into RRsets (one TTL per set: the smallest, as RFC 2181 asks)."""
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for name, ttl, rtype, text in records:
        groups.setdefault((name, rtype), []).append((ttl, text))
    out = []
    for (name, rtype), items in sorted(groups.items()):
        rrset = dns.rrset.RRset(dns.name.from_text(name), dns.rdataclass.IN,
                                dns.rdatatype.from_text(rtype))
        for ttl, text in items:
            rrset.add(rdata(rtype, text), ttl)
        out.append(rrset)
    return out


def soa_rrset(soa: Record) -> dns.rrset.RRset:
    return to_rrsets([soa])[0]


def ixfr_body(old_soa: Record, old: frozenset[Record], new_soa: Record,
              new: frozenset[Record]) -> list[dns.rrset.RRset]:
    """RFC 1995's answer: SOA(new), SOA(old), deletions, SOA(new), additions, SOA(new)."""
    deleted, added = old - new, new - old
    return [soa_rrset(new_soa), soa_rrset(old_soa), *to_rrsets(deleted), soa_rrset(new_soa),
            *to_rrsets(added), soa_rrset(new_soa)]


def axfr_body(soa: Record, records: frozenset[Record]) -> list[dns.rrset.RRset]:
    return [soa_rrset(soa), *to_rrsets(records), soa_rrset(soa)]
