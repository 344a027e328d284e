"""Property-based fuzzing of every route of every face (the Starlette route tables).

Hostile bodies (lone surrogates, NaN, 1e400, huge ints, deep nesting, wrong types, long
strings), hostile path segments (``%00``, control characters, Unicode, huge numbers) and
query parameters, sent as a project member and without a token. Properties: no answer is
a 5xx, and a refused write (4xx) leaves no new object in the store. The examples are
derandomized and bounded so the suite stays well under a minute in ``make test``.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .cloud import FuzzCloud, Stats, fill, param_names
from .hostile import hostile_body, query, segment
from .templates import template

WRITES = ("POST", "PUT", "PATCH")
SCALE = float(os.environ.get("KUMO_FUZZ_SCALE", "1"))  # e.g. 10 for a long run by hand
VERSIONS = ["compute 2.1", "compute 2.100", "compute latest", "compute 2.99999999999999999999",
            "compute 99999999999999999999.1", "compute abc", "compute -1.5", "compute 2.",
            "", "compute 2.1, compute 2.5", "volume 3.0"]
SETTINGS = settings(deadline=None, database=None, derandomize=True, print_blob=False,
                    suppress_health_check=list(HealthCheck))


def exchange(cloud: FuzzCloud, method: str, url: str, token: str | None,
             body: bytes | None, headers: dict[str, str] | None = None) -> int:
    """One request; tallies its status and checks a refused write stored nothing."""
    before = cloud.keys() if method != "GET" else set()
    r = cloud.send(method, url, token=token, content=body, headers=headers)
    what = f"{method} {url[:160]} body={(body or b'')[:160]!r} -> {r.status_code} {r.text[:200]}"
    cloud.stats.count(r.status_code, what)
    if 400 <= r.status_code < 500 and method != "GET":
        new = cloud.keys() - before
        if new and len(cloud.stats.half_written) < 50:
            cloud.stats.half_written.append(f"{what} left {sorted(new)[:3]}")
    return r.status_code


def _url(data: Any, cloud: FuzzCloud, path: str, with_query: bool) -> str:
    params = {n: data.draw(segment(cloud.pool.get(n, [])), label=n) for n in param_names(path)}
    url = fill(path, params)
    if with_query:
        q = data.draw(query(), label="query")
        url += f"?{q}" if q else ""
    return url


def _report(stats: Stats) -> None:
    assert stats.requests > 0
    assert stats.server_errors == [], "\n".join(stats.server_errors[:10])
    assert stats.half_written == [], "\n".join(stats.half_written[:10])


def test_hostile_bodies_on_every_write_route(fuzz_cloud: FuzzCloud, stats: Stats) -> None:
    writes = [(m, p) for m, p in fuzz_cloud.routes if m in WRITES]
    assert len(writes) > 60  # the route tables of all faces, not a hand-kept list

    @settings(SETTINGS, max_examples=int(900 * SCALE))
    @given(data=st.data())
    def run(data: Any) -> None:
        method, path = data.draw(st.sampled_from(writes), label="route")
        url = _url(data, fuzz_cloud, path, with_query=False)
        pick = data.draw(st.integers(0, 50), label="pick")
        body = data.draw(hostile_body(template(method, path, fuzz_cloud.pool, pick)))
        token = data.draw(st.sampled_from([fuzz_cloud.member] * 5 + [None]), label="who")
        exchange(fuzz_cloud, method, url, token, body)

    run()
    _report(stats)


def test_hostile_paths_and_queries_on_every_route(fuzz_cloud: FuzzCloud, stats: Stats) -> None:
    @settings(SETTINGS, max_examples=int(900 * SCALE))
    @given(data=st.data())
    def run(data: Any) -> None:
        method, path = data.draw(st.sampled_from(fuzz_cloud.routes), label="route")
        url = _url(data, fuzz_cloud, path, with_query=True)
        body = None
        if method in WRITES:
            pick = data.draw(st.integers(0, 50), label="pick")
            body = data.draw(hostile_body(template(method, path, fuzz_cloud.pool, pick)))
        headers = None
        if url.startswith("/compute"):
            version = data.draw(st.sampled_from(VERSIONS), label="version")
            headers = {"OpenStack-API-Version": version, "X-OpenStack-Nova-API-Version":
                       version.removeprefix("compute ")}
        exchange(fuzz_cloud, method, url, fuzz_cloud.member, body, headers)

    run()
    _report(stats)


def test_unauthenticated_requests_write_nothing(fuzz_cloud: FuzzCloud, stats: Stats) -> None:
    keys = fuzz_cloud.keys()

    @settings(SETTINGS, max_examples=int(500 * SCALE))
    @given(data=st.data())
    def run(data: Any) -> None:
        method, path = data.draw(st.sampled_from(fuzz_cloud.routes), label="route")
        url = _url(data, fuzz_cloud, path, with_query=data.draw(st.booleans()))
        body = None
        if method in WRITES:
            body = data.draw(hostile_body(template(method, path, fuzz_cloud.pool)))
        token = data.draw(st.sampled_from([None, "", "garbage", "\x7f" * 40, "a" * 5000]))
        exchange(fuzz_cloud, method, url, token, body)

    run()
    _report(stats)
    assert fuzz_cloud.keys() == keys  # no token, no write (of any status)
