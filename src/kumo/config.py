"""Process configuration: where state lives and where the API listens."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:8774"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kumo"


@dataclass
class Config:
    data_dir: Path = field(default_factory=default_data_dir)
    listen: str = DEFAULT_LISTEN
    public_url: str | None = None
    region: str = "RegionOne"
    token_ttl_seconds: int = 3600
    max_body_bytes: int = 1 << 20
    history_min_revisions: int = 1000
    history_min_seconds: float = 300.0
    compaction_interval: float = 60.0
    # Keystone's [security_compliance] lockout (0 attempts: off) and a per-source limit on
    # failed password logins in a sliding window (kumo.core.lockout).
    lockout_failure_attempts: int = 5
    lockout_duration: float = 300.0
    login_failures_per_source: int = 30
    login_failures_per_user_source: int = 10
    login_failure_window: float = 60.0
    # Keystone's [security_compliance] unique_last_password_count: a user's own password
    # change must differ from this many last passwords, the current one included (0: off)
    unique_last_password_count: int = 2
    # Every refused login answers this long after it arrived (pam_faildelay's idea): a
    # wrong password for a real user and for an unknown name take the same time.
    login_failure_delay: float = 0.2
    # connection limits (kumo.api.limits): a request head, its read time, a stalled body
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections_per_client: int = 1024  # open at once from one address; 0: no cap
    max_connections: int = 0  # uvicorn's limit_concurrency (503 beyond); 0: no cap
    max_servers_per_request: int = 100  # a max_count create above this is a 400
    # /metrics: behind a token (admin or the service user) on the API port; on this
    # HOST:PORT without a token as well when set (a scrape listener kept off the public port)
    metrics_listen: str | None = None
    # DNS (kumo.control.dns*): the zone-transfer source's address (port 0: any free one),
    # extra target servers ("name=host:port,..."), how long a zone may stay PENDING before
    # ERROR, and whether `kumo up` runs Knot as this host's secondary
    dns_listen: str = "127.0.0.1:0"
    dns_targets: str = ""
    dns_error_after: float = 30.0
    dns_secondary: bool = True

    def set(self, assignment: str) -> None:
        """Apply ``name=value`` (the CLI's ``--set``), converting to the field's type."""
        name, sep, raw = assignment.partition("=")
        fields = {f.name: f for f in dataclasses.fields(self)}
        if not sep or name not in fields or name == "data_dir":
            raise ValueError(f"unknown setting {assignment!r}; one of {sorted(fields)}")
        current = getattr(self, name)
        if current is None or isinstance(current, str):
            setattr(self, name, raw or None)
        elif isinstance(current, bool):
            setattr(self, name, raw.lower() in ("1", "true", "yes", "on"))
        else:
            setattr(self, name, type(current)(raw))

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.listen}").rstrip("/")

    @property
    def store_path(self) -> Path:
        return self.data_dir / "store.db"
