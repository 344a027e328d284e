"""DNS kinds (Designate; field owners: ``kumo.model.dns``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kumo.model import dns as dm
from kumo.model.base import Model, Resource

Obj = dict[str, Any]


class ZoneSpec(Model):
    name: str
    email: str = ""
    ttl: int = 3600
    description: str | None = None
    type: str = "PRIMARY"
    serial: int = 1
    refresh: int = 3600
    retry: int = 600
    expire: int = 86400
    minimum: int = 3600
    attributes: dict[str, str] = Field(default_factory=dict)
    masters: list[str] = Field(default_factory=list)
    shared_with: list[str] = Field(default_factory=list)
    pool_id: str = ""
    records_revision: int = 0  # the store revision of the last recordset write it announces


class ZoneStatus(Model):
    status: str = "PENDING"
    action: str = "CREATE"
    served: dict[str, int] = Field(default_factory=dict)
    reason: str | None = None
    pending_since: float | None = None
    serial: int | None = None  # the serial the status is about


class DnsZone(Resource):
    KIND = dm.DNS_ZONE
    spec: ZoneSpec
    status: ZoneStatus = Field(default_factory=ZoneStatus)


class RecordSetSpec(Model):
    zone_id: str
    name: str
    type: str
    records: list[str] = Field(default_factory=list)
    ttl: int | None = None
    description: str | None = None
    managed: bool = False
    project_id: str | None = None  # who made it (a project the zone is shared with)


class DnsRecordSet(Resource):
    KIND = dm.DNS_RECORDSET
    spec: RecordSetSpec
    status: Obj = Field(default_factory=dict)


class TaskSpec(Model):
    task: str
    status: str = "COMPLETE"
    zone_id: str | None = None
    zone_name: str | None = None
    message: str | None = None
    key: str | None = None
    target_project_id: str | None = None
    description: str | None = None
    request_id: str | None = None


class DnsZoneTask(Resource):
    KIND = dm.DNS_TASK
    spec: TaskSpec


class TsigKeySpec(Model):
    name: str
    algorithm: str = "hmac-sha256"
    secret: str
    scope: str = "POOL"
    resource_id: str = ""


class DnsTsigKey(Resource):
    KIND = dm.DNS_TSIG_KEY
    spec: TsigKeySpec


class TldSpec(Model):
    name: str
    description: str | None = None


class DnsTld(Resource):
    KIND = dm.DNS_TLD
    spec: TldSpec


class BlacklistSpec(Model):
    pattern: str
    description: str | None = None


class DnsBlacklist(Resource):
    KIND = dm.DNS_BLACKLIST
    spec: BlacklistSpec
