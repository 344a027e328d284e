"""In-process API fixtures: a runtime on a temp store, an ASGI client, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kumo.api.runtime import Runtime
from kumo.model import identity as m
from tests.inproc import in_process


@dataclass
class Api:
    rt: Runtime
    client: httpx.AsyncClient

    async def project(self, name: str) -> str:
        pid = m.new_id()
        await self.rt.objects.create(m.obj(m.PROJECT, pid, {
            "name": name, "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
            {"name": name, "domain": m.DEFAULT_DOMAIN_ID}))
        return pid

    async def token(self, project_id: str, role: str = "member", user: str | None = None) -> str:
        """A token for a new user holding ``role`` on the project."""
        uid = m.new_id()
        await self.rt.objects.create(m.obj(m.USER, uid, {
            "name": user or f"u-{uid[:8]}", "domainId": m.DEFAULT_DOMAIN_ID, "enabled": True},
            {"name": user or f"u-{uid[:8]}", "domain": m.DEFAULT_DOMAIN_ID}))
        roles = await self.rt.objects.list(m.ROLE, "", label_selector=f"name={role}")
        rid = roles.items[0]["metadata"]["name"]
        await self.rt.objects.create(m.obj(
            m.ROLE_ASSIGNMENT, m.assignment_name("project", project_id, "user", uid, rid),
            {"userId": uid, "projectId": project_id, "roleId": rid},
            {"user": uid, "project": project_id, "role": rid}))
        return self.rt.tokens.issue(uid, methods=["password"], project_id=project_id)

    async def admin_token(self) -> str:
        found = await self.rt.objects.list(m.PROJECT, "", label_selector="name=admin")
        return await self.token(found.items[0]["metadata"]["name"], "admin")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with in_process(Api, tmp_path / "data") as harness:
        yield harness
