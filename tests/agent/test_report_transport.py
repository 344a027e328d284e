"""A dropped connection while writing the AgentReport must not end the host's reports."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from kumo.agent.network_report import Reporter


class FlakyApi:
    """The agents' client as seen by the reporter: the first patch loses its connection."""

    def __init__(self) -> None:
        self.calls = 0
        self.written: list[Any] = []

    async def patch(self, kind: str, name: str, body: Any, status: bool = False) -> None:
        self.calls += 1
        if self.calls == 1:
            raise httpx.ConnectError("connection reset")
        self.written.append(body)


def test_transport_error_is_survived_and_the_next_write_lands() -> None:
    api = FlakyApi()
    rep = Reporter(api, "host1")  # type: ignore[arg-type]

    async def go() -> tuple[bool, bool]:
        first = await rep._put({"host": "host1"})
        second = await rep._put({"host": "host1"})
        return first, second

    first, second = asyncio.run(go())
    assert (first, second) == (False, True)
    assert api.written == [{"status": {"host": "host1"}}]
