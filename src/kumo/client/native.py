"""The agent's only way to the control plane: the native API over HTTP.

Keystone password auth with the service credential (re-authenticates on 401
or before expiry), JSON CRUD, merge patches, status writes and streaming
watches. HTTP errors become the store's error types at this boundary, so
agent code handles Conflict/NotFound/Gone the same way controllers do.
"""

from __future__ import annotations

import calendar
import importlib.util
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from kumo.common import errors


def _sniffio_fails_fast() -> None:
    """httpcore runs ``import sniffio`` on every lock, event and connection it makes;
    with sniffio not installed, each failed import scanned all of sys.path again
    (86 s of CPU in a bench process of 300 agents, more than all their HTTP). A None
    entry in sys.modules makes that failure instant; httpcore then assumes asyncio,
    which is what kumo runs on."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_sniffio_fails_fast()
API = "/apis/kumo.io/v1"
MERGE = {"Content-Type": "application/merge-patch+json"}


def load_credentials(path: Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


class ApiClient:
    def __init__(self, credentials: dict[str, Any], *, timeout: float = 30.0) -> None:
        self.creds = credentials
        self.auth_url = credentials["auth_url"].rstrip("/")
        self.base = self.auth_url.rsplit("/v3", 1)[0]
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, read=None),
                                      # idle connections dropped before the server's
                                      # 5 s keep-alive: no reuse racing its close
                                      limits=httpx.Limits(max_connections=64,
                                                          keepalive_expiry=2.0))
        self._token: str | None = None
        self._token_expires = 0.0

    async def close(self) -> None:
        await self.http.aclose()

    async def token(self) -> str:
        if self._token is None or time.time() > self._token_expires - 120:
            c = self.creds
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": c["username"], "password": c["password"],
                "domain": {"id": c.get("user_domain_id", "default")}}}},
                "scope": {"project": {"name": c["project_name"],
                                      "domain": {"id": c.get("project_domain_id", "default")}}}}}
            r = await self.http.post(self.auth_url + "/auth/tokens?nocatalog", json=body)
            if r.status_code != 201:
                raise errors.StoreError(f"authentication failed: {r.status_code} {r.text[:200]}")
            self._token = r.headers["x-subject-token"]
            exp = r.json()["token"]["expires_at"]
            self._token_expires = calendar.timegm(time.strptime(exp[:19], "%Y-%m-%dT%H:%M:%S"))
        return self._token

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        for attempt in (0, 1):
            headers = {**kw.pop("headers", {}), "X-Auth-Token": await self.token()}
            r = await self.http.request(method, url, headers=headers, **kw)
            if r.status_code == 401 and attempt == 0:
                self._token = None
                kw["headers"] = {k: v for k, v in headers.items() if k != "X-Auth-Token"}
                continue
            return r
        return r

    @staticmethod
    def _raise(r: httpx.Response) -> None:
        if r.status_code < 400:
            return
        try:
            msg = r.json().get("message", r.text)
        except ValueError:
            msg = r.text
        err = {404: errors.NotFound, 409: errors.Conflict, 410: errors.Gone, 422: errors.Invalid}
        if r.status_code == 409 and "already exists" in msg:
            raise errors.AlreadyExists(msg)
        raise err.get(r.status_code, errors.StoreError)(f"{r.status_code}: {msg}")

    def path(self, plural: str, ns: str | None = None, name: str | None = None,
             sub: str | None = None) -> str:
        p = self.base + API + (f"/namespaces/{ns}" if ns else "") + f"/{plural}"
        if name:
            p += f"/{name}"
        if sub:
            p += f"/{sub}"
        return p

    async def get(self, plural: str, name: str, ns: str | None = None) -> dict[str, Any] | None:
        r = await self.request("GET", self.path(plural, ns, name))
        if r.status_code == 404:
            return None
        self._raise(r)
        return r.json()

    async def list(self, plural: str, ns: str | None = None, *, label_selector: str | None = None
                   ) -> tuple[list[dict[str, Any]], int]:
        params = {"labelSelector": label_selector} if label_selector else {}
        r = await self.request("GET", self.path(plural, ns), params=params)
        self._raise(r)
        body = r.json()
        return body["items"], int(body["metadata"]["resourceVersion"])

    async def create(self, plural: str, obj: dict[str, Any], ns: str | None = None
                     ) -> dict[str, Any]:
        r = await self.request("POST", self.path(plural, ns), json=obj)
        self._raise(r)
        return r.json()

    async def replace(self, plural: str, obj: dict[str, Any], *, status: bool = False
                      ) -> dict[str, Any]:
        md = obj["metadata"]
        r = await self.request("PUT", self.path(plural, md.get("namespace") or None, md["name"],
                                                "status" if status else None), json=obj)
        self._raise(r)
        return r.json()

    async def patch(self, plural: str, name: str, patch: dict[str, Any], ns: str | None = None,
                    *, status: bool = False) -> dict[str, Any]:
        r = await self.request("PATCH", self.path(plural, ns, name, "status" if status else None),
                               content=json.dumps(patch), headers=MERGE)
        self._raise(r)
        return r.json()

    async def delete(self, plural: str, name: str, ns: str | None = None) -> None:
        r = await self.request("DELETE", self.path(plural, ns, name))
        if r.status_code != 404:
            self._raise(r)

    async def watch(self, plural: str, resource_version: int, *, label_selector: str | None = None
                    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(type, object) pairs after resource_version; raises Gone when it is too old."""
        params: dict[str, Any] = {"watch": "1", "resourceVersion": str(resource_version),
                                  "allowWatchBookmarks": "true"}
        if label_selector:
            params["labelSelector"] = label_selector
        headers = {"X-Auth-Token": await self.token()}
        async with self.http.stream("GET", self.path(plural), params=params,
                                    headers=headers) as r:
            if r.status_code >= 400:
                await r.aread()
                self._raise(r)
            async for line in r.aiter_lines():
                if not line.strip():
                    continue
                ev = json.loads(line)
                if ev["type"] == "ERROR":
                    if ev["object"].get("code") == 410:
                        raise errors.Gone(ev["object"].get("message", "gone"))
                    raise errors.StoreError(ev["object"].get("message", "watch error"))
                yield ev["type"], ev["object"]

    async def download(self, url_path: str, dest: Path) -> None:
        """Stream a file (e.g. an image) from the API to dest."""
        headers = {"X-Auth-Token": await self.token()}
        async with self.http.stream("GET", self.base + url_path, headers=headers) as r:
            if r.status_code >= 400:
                await r.aread()
                self._raise(r)
            with open(dest, "wb") as f:
                async for chunk in r.aiter_bytes(1 << 20):
                    f.write(chunk)
