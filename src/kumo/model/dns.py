"""DNS kinds (Designate): zones and their recordsets, namespaced by project.

DnsZone (name = zone id) spec, written by the dns face through ``kumo.core.dns``:
  {name (FQDN, trailing dot), email, ttl, description, type (PRIMARY), serial (bumped on
   every change of the zone or one of its recordsets), refresh, retry, expire, minimum,
   attributes{}, sharedWith[] (project ids)}
DnsZone status, written by the dns serving controller (``kumo.control.dns``):
  {status (PENDING|ACTIVE|ERROR), action (CREATE|UPDATE|DELETE|NONE), served{target:
   serial}, reason (why ERROR), pendingSince (when the zone's serial last changed)}
DnsRecordSet (name = recordset id, label ``kumo.io/dns-zone`` = zone id) spec, written by
the dns face: {zoneId, name (FQDN), type, records[] (presentation format), ttl,
description, managed (SOA/NS kumo writes itself)}
DnsZoneTask (name = task id) spec, written by the dns face: {task (import | export |
transfer_request | transfer_accept), status (ACTIVE | COMPLETE | ERROR), zoneId, zoneName,
message, key (transfer requests), targetProjectId, description, requestId}
DnsTsigKey {name, algorithm, secret (base64), scope (POOL|ZONE), resourceId}, DnsTld {name,
description}, DnsBlacklist {pattern, description}: cluster-scoped, admins through the face.
"""

from __future__ import annotations

from .registry import KindInfo, register

DNS_ZONE = "DnsZone"
DNS_RECORDSET = "DnsRecordSet"
DNS_TASK = "DnsZoneTask"
DNS_TSIG_KEY = "DnsTsigKey"
DNS_TLD = "DnsTld"
DNS_BLACKLIST = "DnsBlacklist"
ZONE_LABEL = "kumo.io/dns-zone"
QUOTA_NAME = "dns"  # the QuotaSet of a project's Designate limits
QUOTA_DEFAULTS: dict[str, int] = {"zones": 10, "zone_recordsets": 500, "zone_records": 500,
                                  "recordset_records": 20, "api_export_size": 1000}
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR", "NS", "CAA", "SSHFP", "SPF",
                "SOA")

register(KindInfo(DNS_ZONE, "dnszones", namespaced=True))
register(KindInfo(DNS_RECORDSET, "dnsrecordsets", namespaced=True))
register(KindInfo(DNS_TASK, "dnszonetasks", namespaced=True))
register(KindInfo(DNS_TSIG_KEY, "dnstsigkeys", namespaced=False, admin_only=True))
register(KindInfo(DNS_TLD, "dnstlds", namespaced=False, admin_only=True))
register(KindInfo(DNS_BLACKLIST, "dnsblacklists", namespaced=False, admin_only=True))
