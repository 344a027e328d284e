"""Helpers for end-to-end tests that boot real guests."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

BOOT_MARKER = "kumo-tiny booted"


def need_qemu() -> None:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    if os.geteuid() != 0:
        pytest.skip("booting guests with taps needs root")


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 120, interval: float = 0.5
             ) -> Any:
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def admin_token(base_url: str, password: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "password": password, "domain": {"id": "default"}}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    r = httpx.post(base_url + "/v3/auth/tokens", json=body, timeout=30)
    r.raise_for_status()
    return r.headers["x-subject-token"]


def native_server(base_url: str, token: str, project_id: str, server_id: str
                  ) -> dict[str, Any] | None:
    r = httpx.get(f"{base_url}/apis/kumo.io/v1/namespaces/{project_id}/servers/{server_id}",
                  headers={"X-Auth-Token": token}, timeout=30)
    return r.json() if r.status_code == 200 else None


def pid_alive(pid: int) -> bool:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_image_active(openstack: Callable[..., Any], name: str = "kumo-tiny",
                      timeout: float = 600) -> dict[str, Any]:
    def probe() -> Any:
        imgs = openstack("image", "list", "--name", name)
        return imgs and imgs[0]["Status"] == "active" and imgs[0]

    return wait_for(f"image {name} active", probe, timeout=timeout, interval=2)
