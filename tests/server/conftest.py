"""A real ``kumo api`` process on loopback, with its own data dir and ``--set`` limits."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.apiprocess import ApiProcess


@pytest.fixture
def api_factory(tmp_path: Path) -> Iterator[Callable[..., ApiProcess]]:
    started: list[ApiProcess] = []

    def make(*settings: str, data_dir: Path | None = None) -> ApiProcess:
        d = data_dir or tmp_path / "data"
        api = ApiProcess(d, list(settings))
        started.append(api)
        return api.start()

    yield make
    for api in started:
        api.kill(signal.SIGKILL)
