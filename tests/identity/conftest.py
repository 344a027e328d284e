"""In-process Keystone: the whole API app on a temp store, an ASGI client, an admin token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kumo.api.app import build_app
from kumo.api.runtime import Runtime
from kumo.config import Config
from kumo.model import identity as m
from kumo.server import open_runtime


@dataclass
class Keystone:
    rt: Runtime
    client: httpx.AsyncClient
    headers: dict[str, str]  # an admin token


@pytest.fixture
async def keystone(tmp_path: Path) -> AsyncIterator[Keystone]:
    rt = await open_runtime(Config(data_dir=tmp_path / "data", listen="127.0.0.1:1"))
    admin = (await rt.objects.list(m.USER, "", label_selector="name=admin")).items[0]
    proj = (await rt.objects.list(m.PROJECT, "", label_selector="name=admin")).items[0]
    token = rt.tokens.issue(admin["metadata"]["name"], methods=["password"],
                            project_id=proj["metadata"]["name"])
    transport = httpx.ASGITransport(app=build_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://kumo") as client:
        yield Keystone(rt, client, {"X-Auth-Token": token})
    await rt.objects.backend.close()
