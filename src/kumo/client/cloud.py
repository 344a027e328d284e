"""A small native-API client for the CLI and agents: Keystone auth + REST + watch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import yaml


def load_cloud(name: str) -> dict[str, Any]:
    paths = [os.environ.get("OS_CLIENT_CONFIG_FILE"), "clouds.yaml",
             str(Path.home() / ".config/openstack/clouds.yaml")]
    for p in paths:
        if p and Path(p).exists():
            clouds = yaml.safe_load(Path(p).read_text()).get("clouds", {})
            if name in clouds:
                return clouds[name]
    raise SystemExit(f"cloud {name!r} not found; set OS_CLIENT_CONFIG_FILE")


class Client:
    def __init__(self, auth: dict[str, Any]) -> None:
        self.auth_url = auth["auth_url"].rstrip("/")
        self.base = self.auth_url.rsplit("/v3", 1)[0]
        self.http = httpx.Client(timeout=30)
        self.token = self._issue(auth)

    @classmethod
    def from_cloud(cls, name: str) -> Client:
        return cls(load_cloud(name)["auth"])

    def _issue(self, auth: dict[str, Any]) -> str:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "password": auth["password"],
            "domain": {"id": auth.get("user_domain_id", "default")}}}},
            "scope": {"project": {"name": auth["project_name"],
                                  "domain": {"id": auth.get("project_domain_id", "default")}}}}}
        r = self.http.post(self.auth_url + "/auth/tokens", json=body)
        r.raise_for_status()
        return r.headers["x-subject-token"]

    def get(self, plural: str, name: str | None = None, namespace: str | None = None) -> Any:
        path = f"{self.base}/apis/kumo.io/v1/"
        path += f"namespaces/{namespace}/" if namespace else ""
        path += plural + (f"/{name}" if name else "")
        r = self.http.get(path, headers={"X-Auth-Token": self.token})
        if r.status_code >= 400:
            raise SystemExit(f"{r.status_code}: {r.json().get('message', r.text)}")
        return r.json()

    def call(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a path under the API's base URL; an error status exits with its message
        (a member asking for ``kumo doctor`` is told it needs an admin token)."""
        r = self.http.get(self.base + path, params=params or {},
                          headers={"X-Auth-Token": self.token})
        if r.status_code >= 400:
            try:
                msg = r.json().get("message", r.text)
            except ValueError:
                msg = r.text
            raise SystemExit(f"error {r.status_code}: {msg}")
        return r.json()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
