"""API benchmarks: kumo up time to ready, idle RSS, token validation, native GET.

Starts its own `kumo up` (fake driver, no image build) on a free loopback port
in a temp data dir, prints figures, removes everything. Run:
    .venv/bin/python bench/api_bench.py
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import LiveCloud, free_port  # noqa: E402

N = 2000


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed_gets(client: httpx.Client, url: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
    return out


async def in_process_validation() -> tuple[float, float]:
    """TokenManager.validate: first (store reads) and cached, in microseconds."""
    from kumo.config import Config
    from kumo.model import identity as m
    from kumo.server import open_runtime

    tmp = Path(tempfile.mkdtemp(prefix="kumo-bench-"))
    try:
        rt = await open_runtime(Config(data_dir=tmp))
        admin = (await rt.objects.list(m.USER, "", label_selector="name=admin")).items[0]
        proj = (await rt.objects.list(m.PROJECT, "", label_selector="name=admin")).items[0]
        first, cached = [], []
        for _ in range(200):
            tok = rt.tokens.issue(admin["metadata"]["name"], methods=["password"],
                                  project_id=proj["metadata"]["name"])
            t = time.perf_counter()
            await rt.tokens.validate(tok)
            first.append(time.perf_counter() - t)
            for _ in range(10):
                t = time.perf_counter()
                await rt.tokens.validate(tok)
                cached.append(time.perf_counter() - t)
        await rt.objects.backend.close()
        return statistics.median(first) * 1e6, statistics.median(cached) * 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kumo-bench-"))
    cloud = LiveCloud(tmp / "data", free_port())
    try:
        starts = []
        for i in range(3):
            cloud.start(extra_args=["--driver", "fake", "--no-image"])
            starts.append(cloud.startup_seconds)
            if i < 2:
                cloud.stop()
        time.sleep(3)
        assert cloud.proc is not None
        rss_idle = rss_mb(cloud.proc.pid)
        with httpx.Client(base_url=cloud.base_url, timeout=30) as c:
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "password": cloud.admin_password, "domain": {"id": "default"}}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
            r = c.post("/v3/auth/tokens", json=body)
            tok = r.headers["x-subject-token"]
            h = {"X-Auth-Token": tok}
            c.post("/apis/kumo.io/v1/hosts", headers=h,
                   json={"kind": "Host", "metadata": {"name": "bench"}, "spec": {}})
            timed_gets(c, "/healthz", {}, 200)
            unauth = timed_gets(c, "/healthz", {}, N)
            auth = timed_gets(c, "/apis/kumo.io/v1/hosts/bench", h, N)
        first_us, cached_us = asyncio.run(in_process_validation())
        print("kumo up (fake driver, existing data dir) time to ready: "
              f"first {starts[0]:.2f}s, restarts {starts[1]:.2f}s / {starts[2]:.2f}s "
              "(goal < 2 s)")
        print(f"kumo up idle RSS: {rss_idle:.0f} MB (goal < 150 MB)")
        print(f"token validation in-process: first {first_us:.0f} us, cached {cached_us:.1f} us "
              "(goal well under 1 ms)")
        p50a, p50u = statistics.median(auth) * 1e3, statistics.median(unauth) * 1e3
        print(f"native GET (authenticated, one object) p50 {p50a:.2f} ms, "
              f"p99 {pct(auth, 0.99) * 1e3:.2f} ms over {N} sequential requests")
        print(f"baseline GET /healthz (no auth, no store) p50 {p50u:.2f} ms, "
              f"p99 {pct(unauth, 0.99) * 1e3:.2f} ms")
        print(f"auth + store read overhead over baseline p50: {p50a - p50u:.2f} ms "
              f"(ratio {p50a / p50u:.2f}x)")
    finally:
        cloud.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["true"], check=False)


if __name__ == "__main__":
    main()
