"""A live ``kumo up`` (fake compute and network drivers) and a headless Chromium driving
the console in it: the browser tests' and the benchmark's shared setup."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@dataclass
class Account:
    name: str
    password: str
    project_id: str


class Admin:
    """The cloud's admin over HTTP: projects, users with passwords, a public image."""

    def __init__(self, base_url: str, password: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        r = self.http.post("/v3/auth/tokens", json={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "password": password, "domain": {"id": "default"}}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
        r.raise_for_status()
        self.http.headers["X-Auth-Token"] = r.headers["x-subject-token"]

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        assert r.status_code < 400, r.text
        return r.json() if r.content else None

    def role(self, name: str) -> str:
        return self.ok("GET", f"/v3/roles?name={name}")["roles"][0]["id"]

    def account(self, prefix: str, role: str = "member") -> Account:
        tag = uuid.uuid4().hex[:6]
        pid = self.ok("POST", "/v3/projects", json={"project": {
            "name": f"{prefix}-{tag}", "domain_id": "default"}})["project"]["id"]
        name, pw = f"{prefix}-{tag}", "pw-" + uuid.uuid4().hex
        uid = self.ok("POST", "/v3/users", json={"user": {
            "name": name, "password": pw, "domain_id": "default"}})["user"]["id"]
        self.ok("PUT", f"/v3/projects/{pid}/users/{uid}/roles/{self.role(role)}")
        return Account(name, pw, pid)

    def image(self, name: str = "console-img") -> str:
        img = self.ok("POST", "/image/v2/images", json={
            "name": name, "disk_format": "raw", "container_format": "bare",
            "visibility": "public"})
        self.ok("PUT", f"/image/v2/images/{img['id']}/file", content=b"\0" * 4096,
                headers={"Content-Type": "application/octet-stream"})
        return img["id"]


def chromium() -> Any:
    """Debian's headless Chromium through its chromedriver (root needs --no-sandbox)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--no-proxy-server"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER or "chromedriver"), options=opts)


def data_dir_of(tmp: Path) -> Path:
    return tmp / "data"
