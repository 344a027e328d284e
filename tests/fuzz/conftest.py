"""The fuzzed cloud (one per module) and the closing tally of requests and 5xx answers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .cloud import FuzzCloud, Stats, close_cloud, open_cloud

TALLY: dict[str, Stats] = {}


@pytest.fixture(scope="module")
def fuzz_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzCloud]:
    cloud = open_cloud(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        yield cloud
    finally:
        close_cloud(cloud)


@pytest.fixture
def stats(request: pytest.FixtureRequest, fuzz_cloud: FuzzCloud) -> Stats:
    """This test's tally, kept for the summary at the end of the run."""
    fuzz_cloud.stats = TALLY[request.node.name] = Stats()
    return fuzz_cloud.stats


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY:
        return
    total = sum(s.requests for s in TALLY.values())
    errors = sum(s.by_class.get("5xx", 0) for s in TALLY.values())
    terminalreporter.write_sep("-", f"fuzz: {total} requests, {errors} answered 5xx")
    for name, s in TALLY.items():
        terminalreporter.write_line(f"  {name}: {s.requests} requests {dict(sorted(s.by_class.items()))}")
    out = os.environ.get("KUMO_FUZZ_REPORT")
    if out:
        Path(out).write_text(json.dumps({"requests": total, "5xx": errors, "tests": {
            n: {"requests": s.requests, "by_class": s.by_class, "server_errors": s.server_errors,
                "half_written": s.half_written} for n, s in TALLY.items()}}, indent=1))
