"""The store's own health for ``kumo doctor``: is the writer committing, and which
watchers fall behind (a slow watch consumer delays every controller behind it)."""

from __future__ import annotations

import time
from typing import Any


class WriterHealth:
    """When the writer thread's current batch began, its last commit, its last error."""

    def __init__(self) -> None:
        self.batch_since: float | None = None
        self.last_commit_at: float | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.failed_commits = 0

    def begin(self) -> None:
        self.batch_since = time.time()

    def done(self, error: str | None) -> None:
        now = time.time()
        self.batch_since = None
        if error is None:
            self.last_commit_at = now
        else:
            self.last_error, self.last_error_at = error, now
            self.failed_commits += 1

    def view(self, hub: Any) -> dict[str, Any]:
        return {"writer": {"batchSince": self.batch_since, "lastCommitAt": self.last_commit_at,
                           "lastError": self.last_error, "lastErrorAt": self.last_error_at,
                           "failedCommits": self.failed_commits},
                "watch_lag": hub.lagging()}
