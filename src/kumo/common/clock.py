"""Timestamps as kumo writes them (RFC 3339, UTC, microseconds) and back."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime


def now_iso() -> str:
    """Now, as every object timestamp is written: ``2026-12-02T06:13:00.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_seconds_iso() -> str:
    """Now to the second, as the OpenStack APIs show times: ``2026-12-02T06:13:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(ts: str | None) -> float:
    """Seconds since the epoch of a timestamp (0.0 when absent or unreadable)."""
    if not ts:
        return 0.0
    try:
        whole = float(calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return 0.0
    frac = ts[19:].rstrip("Z")
    if frac.startswith(".") and frac[1:].isdigit():
        whole += float("0" + frac)
    return whole
