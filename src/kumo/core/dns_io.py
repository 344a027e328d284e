"""Zone files (RFC 1035 master format) in and out: Designate's zone import and export.

Import parses with dnspython (``$ORIGIN``, ``$TTL``, relative names), makes the zone from
the SOA (its RNAME is the email, its TTL the zone's) and every other RRset as a recordset,
under the same rules as the API (``dns_rules``, unique names, the zone quota); the apex
NS and the SOA are kumo's and are not imported. All recordsets are written before one
serial bump, so secondaries get the whole zone in one transfer. Export renders the zone
with its current SOA.
"""

from __future__ import annotations

import uuid
from typing import Any

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from kumo import store

from . import dns as zones
from . import dns_records as records
from . import dns_rules as rules
from . import names
from .actor import Actor
from .errors import Invalid

Obj = dict[str, Any]
MAX_FILE = 16 << 20


def parse(text: str) -> dns.zone.Zone:
    if len(text) > MAX_FILE:
        raise Invalid("the zone file is too large", code="invalid_object")
    try:
        return dns.zone.from_text(text, origin=None, relativize=False, check_origin=False)
    except (dns.exception.DNSException, ValueError, KeyError) as exc:
        raise Invalid(f"the zone file cannot be parsed: {exc}",
                      code="invalid_object") from None


def _email(rname: dns.name.Name) -> str:
    labels = [label.decode() for label in rname.labels if label]
    return (labels[0] + "@" + ".".join(labels[1:])) if len(labels) > 1 else \
        "hostmaster@" + rname.to_text()


async def import_zone(objects: store.ObjectStore, actor: Actor, text: str) -> Obj:
    """The zone made from ``text`` (with its recordsets)."""
    parsed = parse(text)
    origin = parsed.origin.to_text()
    soa = parsed.get_rdataset(parsed.origin, dns.rdatatype.SOA)
    if soa is None:
        raise Invalid("the zone file has no SOA at its origin", code="invalid_object")
    zone = await zones.create_zone(objects, actor, {
        "name": origin, "email": _email(soa[0].rname), "ttl": soa.ttl})
    limits = await zones.limits(objects, actor.project_id or "")
    sets = []
    for name, node in parsed.nodes.items():
        for rdataset in node.rdatasets:
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            owner = name.to_text()
            if rtype == "SOA" or (rtype == "NS" and owner == origin):
                continue
            rules.check_type(rtype)
            sets.append((owner, rtype, [rd.to_text() for rd in rdataset], rdataset.ttl))
    try:
        last = await _write_sets(objects, zone, sets, limits)
    except BaseException:
        await zones.delete_zone(objects, Actor.kumo(actor.project_id), zone["metadata"]["name"])
        raise
    return await zones.bump_serial(objects, zone, records_revision=last)


async def _write_sets(objects: store.ObjectStore, zone: Obj,
                      sets: list[tuple[str, str, list[str], int]], limits: dict[str, int]
                      ) -> int:
    """Write the recordsets; the revision of the last write."""
    project, zone_id = zone["metadata"]["namespace"], zone["metadata"]["name"]
    records._check_counts([], limits, len(sets), sum(len(s[2]) for s in sets))
    seen: dict[str, set[str]] = {}
    for owner, rtype, _data, _ttl in sets:
        seen.setdefault(owner, set()).add(rtype)
    for owner, types in seen.items():
        if "CNAME" in types and (len(types) > 1 or owner == zone["spec"]["name"]):
            raise Invalid(f"CNAME at {owner} beside other data", code="invalid_object")
    last = 0
    for owner, rtype, data, ttl in sets:
        owner = rules.check_fqdn(owner, "recordset")
        spec = {"name": owner, "type": rtype, "records": rules.check_records(
            rtype, data, limits["recordset_records"]), "ttl": ttl, "managed": False}
        obj = zones.recordset_object(project, zone_id, str(uuid.uuid4()), spec)
        made = await names.create_unique(objects, obj, records.claim_scope(zone_id, rtype))
        last = max(last, zones.revision_of(made))
    return last


async def export_zone(objects: store.ObjectStore, zone: Obj) -> str:
    """The zone as a master file, SOA first."""
    spec = zone["spec"]
    lines = [f"$ORIGIN {spec['name']}", f"$TTL {spec.get('ttl') or 3600}"]
    sets = sorted(await records.zone_sets(objects, zone),
                  key=lambda s: (s["spec"]["type"] != "SOA", s["spec"]["name"],
                                 s["spec"]["type"]))
    for rs in sets:
        rs_spec = rs["spec"]
        ttl = rs_spec.get("ttl") if rs_spec.get("ttl") is not None else spec.get("ttl")
        data = [zones.soa_text(zone)] if rs_spec["type"] == "SOA" \
            else rs_spec.get("records") or []
        lines += [f"{rs_spec['name']} {ttl} IN {rs_spec['type']} {d}" for d in data]
    return "\n".join(lines) + "\n"
