"""A hostile ``limit`` on a native list of a real ``kumo api`` answers at once.

Before: ``?limit=-1`` never returned; the event loop spun, ``/healthz`` stopped answering
and only SIGKILL ended the process.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from kumo.store.backend import MAX_PAGE
from tests.apiprocess import ApiProcess


def test_negative_and_huge_limits_return_one_bounded_page(
        api_factory: Callable[..., ApiProcess]) -> None:
    api = api_factory()
    headers = {"X-Auth-Token": api.token()}
    with httpx.Client(base_url=api.url, headers=headers, timeout=10) as c:
        for limit in ("-1", "-1000", "0", str(10**9)):
            r = c.get("/apis/kumo.io/v1/roles", params={"limit": limit})
            assert r.status_code in (200, 400), (limit, r.text)
            if r.status_code == 200:
                assert 0 < len(r.json()["items"]) <= MAX_PAGE
        assert c.get("/healthz").status_code == 200
