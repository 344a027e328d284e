"""Restart benchmark: `kumo api` start to ready with an empty store and with N objects.

    .venv/bin/python bench/restart_bench.py [--objects 10000] [--restarts 3]

For each store (a freshly bootstrapped one, then one filled through the API with
servers made by ``max_count`` creates, each a Server, an InstanceAction and Events,
until it holds ``--objects`` objects), restarts `kumo api` ``--restarts`` times and
prints per restart: seconds to the "ready" banner, and to the first answered
authenticated server list (token issued, list read). Goal: <= 2 s at 10,000 objects.
No asserts: it measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
KUMO = Path(sys.executable).parent / "kumo"
NOVA = {"OpenStack-API-Version": "compute 2.37"}
SRC = Path(os.environ.get("KUMO_BENCH_SRC") or REPO / "src")  # another tree's code: a baseline
SETTINGS = [] if os.environ.get("KUMO_BENCH_SRC") else ["--set", "max_servers_per_request=500"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> float:
        """Start; seconds to the ready banner."""
        env = {**os.environ, "PYTHONPATH": f"{SRC}:{os.environ.get('PYTHONPATH', '')}",
               "KUMO_LOG_LEVEL": "WARNING"}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(KUMO), "api", "--data-dir", str(self.data), "--listen",
             f"127.0.0.1:{self.port}", *SETTINGS],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if " ready at " in line:
                return time.perf_counter() - t0
        raise RuntimeError("kumo api exited before ready")

    def token(self) -> tuple[str, str]:
        password = (self.data / "admin-password").read_text().strip()
        r = httpx.post(self.url + "/v3/auth/tokens", timeout=60, json={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
        r.raise_for_status()
        return r.headers["X-Subject-Token"], r.json()["token"]["project"]["id"]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


def objects_in(data: Path) -> int:
    with sqlite3.connect(data / "store.db") as conn:
        return conn.execute("SELECT count(*) FROM kv").fetchone()[0]


def fill(api: Api, target: int) -> None:
    """Servers by max_count creates (networks none) until the store holds ``target``."""
    token, project = api.token()
    with httpx.Client(base_url=api.url, timeout=300,
                      headers={"X-Auth-Token": token, **NOVA}) as c:
        c.put(f"/compute/v2.1/os-quota-sets/{project}", json={
            "quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
        image = c.post("/image/v2/images", json={
            "name": "blob", "disk_format": "raw", "container_format": "bare"}).json()["id"]
        c.put(f"/image/v2/images/{image}/file", content=b"\0" * 4096,
              headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        while (have := objects_in(api.data)) < target:
            n = max(1, min(200, (target - have) // 3))
            c.post("/compute/v2.1/servers", json={"server": {
                "name": "fill", "imageRef": image, "flavorRef": "42", "networks": "none",
                "min_count": 1, "max_count": n}}).raise_for_status()
        time.sleep(2)  # let the scheduler settle its NoValidHost writes


def restarts(api: Api, times: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(times):
        t0 = time.perf_counter()
        ready = api.start()
        token, _ = api.token()
        httpx.get(api.url + "/compute/v2.1/servers", params={"limit": 1},
                  headers={"X-Auth-Token": token}, timeout=60).raise_for_status()
        out.append((ready, time.perf_counter() - t0))
        api.stop()
    return out


def report(label: str, data: Path, runs: list[tuple[float, float]]) -> None:
    ready = [r for r, _ in runs]
    served = [s for _, s in runs]
    print(f"{label:>14}: {objects_in(data):6d} objects  ready "
          f"{' '.join(f'{r:.2f}' for r in ready)} s (median {statistics.median(ready):.2f})  "
          f"first list {' '.join(f'{s:.2f}' for s in served)} s "
          f"(median {statistics.median(served):.2f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="Fill this data dir and keep it (for profiling).")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="kumo-restart-bench-"))
    try:
        api = Api(tmp / "data")
        if (api.data / "store.db").exists():  # a kept, filled data dir: restarts only
            report(f"{objects_in(api.data)} objs", api.data, restarts(api, args.restarts))
            return
        api.start()
        api.stop()
        report("empty store", api.data, restarts(api, args.restarts))
        api.start()
        t0 = time.perf_counter()
        fill(api, args.objects)
        api.stop()
        print(f"(filled in {time.perf_counter() - t0:.1f} s)", flush=True)
        report(f"{args.objects} objs", api.data, restarts(api, args.restarts))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
