"""The real API app on a temp store, driven in-process through httpx (no socket): the
harness the api, compute, network, load-balancer and quota tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from kumo.api.app import build_app
from kumo.api.runtime import Runtime
from kumo.config import Config
from kumo.server import open_runtime

H = TypeVar("H")


@asynccontextmanager
async def in_process(harness: Callable[[Runtime, httpx.AsyncClient], H], data_dir: Path,
                     **client_kw: Any) -> AsyncIterator[H]:
    """``harness(runtime, client)`` for a fresh cloud in ``data_dir``; its store closed after."""
    rt = await open_runtime(Config(data_dir=data_dir, listen="127.0.0.1:1"))
    transport = httpx.ASGITransport(app=build_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://kumo",
                                 **client_kw) as client:
        yield harness(rt, client)
    await rt.objects.backend.close()
