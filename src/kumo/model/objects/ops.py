"""Operability kinds: AgentReport (field owners: ``kumo.model.ops``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kumo.model import ops
from kumo.model.base import Model, Resource


class SyncRecord(Model):
    revision: int = 0
    start: float = 0.0
    end: float = 0.0
    changes: int = 0


class DriftRecord(Model):
    at: float = 0.0
    table: str = ""
    device: str = ""
    entry: str = ""
    kind: str = "missing"


class AgentReportStatus(Model):
    host: str = ""
    vtep_ip: str | None = None
    agent_version: str = ""
    reported_at: float = 0.0
    ports_revision: int = 0
    syncs: list[SyncRecord] = Field(default_factory=list)
    desired: dict[str, int] = Field(default_factory=dict)
    programmed: dict[str, int] = Field(default_factory=dict)
    missing: list[dict[str, str]] = Field(default_factory=list)
    drift: list[DriftRecord] = Field(default_factory=list)
    failures: list[dict[str, str]] = Field(default_factory=list)
    dhcp: list[dict[str, Any]] = Field(default_factory=list)
    # written by the agent's inventory (agent/inventory.py), merged beside the above
    vms: list[dict[str, Any]] = Field(default_factory=list)
    images: list[dict[str, Any]] = Field(default_factory=list)
    inventory_at: float = 0.0


class AgentReport(Resource):
    """One host agent's account of what it programmed (written by that agent only)."""

    KIND = ops.AGENT_REPORT
    status: AgentReportStatus = Field(default_factory=AgentReportStatus)
