"""The web console at 1,000 servers: page time, live-update latency, page weight.

    .venv/bin/python bench/console_bench.py [--servers 1000] [--runs 40] [--changes 20]

Starts a real ``kumo up`` (fake compute and network drivers, loopback), makes a project
and a member user through Keystone, creates N servers through Nova (quota raised, no
networks) and waits until none is BUILD. Then, logged in through the console's form:

- ``GET /console/servers`` (all N rows) and ``GET /console/servers/{id}``: loopback
  request time p50/p95 (an upper bound of server-side time: client and transfer are in it);
- page weight of the list: bytes transferred (gzip, as a browser asks) and uncompressed;
  the page has no other resource (CSS and JS are inline);
- store change → visible: headless Chromium holds the list open; each change renames a
  server through Nova, and a MutationObserver in the page stamps when the row's text
  changes; latency = stamp - time before the rename request (p50, p95).

Then the same list in-process (the API app on a temp store, N Server objects written
straight into it, no other component running): wall and CPU time per request, the
server-side figure without a client or a loaded cloud beside it.

No asserts: it measures. Prints the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.console.live import Admin, chromium  # noqa: E402 - the browser tests' setup

KUMO = Path(sys.executable).parent / "kumo"


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([str(KUMO), "up", "--data-dir", str(data_dir), "--listen",
                             f"127.0.0.1:{port}", "--driver", "fake", "--net-driver", "fake",
                             "--no-image"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    while " ready at " not in (line := proc.stdout.readline()):
        if not line and proc.poll() is not None:
            raise RuntimeError("kumo up exited")
    return proc


def populate(admin: Admin, project: str, user_token: str, n: int) -> None:
    admin.ok("PUT", f"/compute/v2.1/os-quota-sets/{project}", json={"quota_set": {
        "instances": n * 2, "cores": n * 2, "ram": n * 1024}})
    image = admin.image("bench-img")
    http = httpx.Client(base_url=str(admin.http.base_url), timeout=120, headers={
        "X-Auth-Token": user_token, "OpenStack-API-Version": "compute 2.100"})

    def one(i: int) -> None:
        r = http.post("/compute/v2.1/servers", json={"server": {
            "name": f"s{i:04d}", "imageRef": image, "flavorRef": "42", "networks": "none"}})
        assert r.status_code == 202, r.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))
    deadline = time.time() + 600
    while time.time() < deadline:
        r = http.get("/compute/v2.1/servers", params={"status": "BUILD", "limit": 1})
        if not r.json()["servers"]:
            return
        time.sleep(2)


def login(base: str, name: str, password: str) -> httpx.Client:
    from tests.console.conftest import csrf_of

    c = httpx.Client(base_url=base, timeout=60)
    form = c.get("/console/login")
    r = c.post("/console/login", data={"csrf": csrf_of(form.text), "domain": "Default",
                                       "user": name, "password": password})
    assert r.status_code == 303, r.text
    return c


def timed(c: httpx.Client, path: str, runs: int) -> tuple[list[float], httpx.Response]:
    out, r = [], None
    for _ in range(runs):
        t = time.perf_counter()
        r = c.get(path, headers={"Accept-Encoding": "gzip"})
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text[:300]
    assert r is not None
    return out, r


OBSERVE = """window.__seen = {};
new MutationObserver(function (ms) { ms.forEach(function (m) {
  var tr = m.target.closest ? m.target.closest('tr') : m.target.parentElement.closest('tr');
  if (tr) window.__seen[tr.id] = Date.now(); }); })
  .observe(document.getElementById('rows'), {subtree: true, childList: true,
                                             characterData: true});"""


def live_latency(base: str, name: str, password: str, token: str, ids: list[str],
                 changes: int) -> list[float]:
    from selenium.webdriver.common.by import By

    b = chromium()
    try:
        b.get(base + "/console/login")
        b.find_element(By.ID, "user").send_keys(name)
        b.find_element(By.ID, "password").send_keys(password)
        b.find_element(By.ID, "login").click()
        b.get(base + "/console/servers")
        while b.find_element(By.ID, "live").text != "live":
            time.sleep(0.05)
        b.execute_script(OBSERVE)
        http = httpx.Client(base_url=base, timeout=60, headers={
            "X-Auth-Token": token, "OpenStack-API-Version": "compute 2.100"})
        out = []
        for i, sid in enumerate(ids[:changes]):
            t0 = time.time() * 1000
            http.put(f"/compute/v2.1/servers/{sid}", json={"server": {"name": f"r{i}"}})
            deadline = time.time() + 10
            seen = None
            while seen is None and time.time() < deadline:
                seen = b.execute_script(f"return window.__seen['s-{sid}'] || null")
                time.sleep(0.01)
            out.append((seen or float("nan")) - t0)
            time.sleep(0.2)
        return out
    finally:
        b.quit()


async def in_process(n: int, runs: int, where: Path) -> None:
    import uuid

    from kumo.api.app import build_app
    from kumo.config import Config
    from kumo.model import compute as cm
    from kumo.model import identity as m
    from kumo.server import open_runtime

    rt = await open_runtime(Config(data_dir=where, listen="127.0.0.1:1"))
    admin = (await rt.objects.list(m.PROJECT, "", label_selector="name=admin")).items[0]
    pid = admin["metadata"]["name"]
    users = await rt.objects.list(m.USER, "", label_selector="name=admin")
    token = rt.tokens.issue(users.items[0]["metadata"]["name"], methods=["password"],
                            project_id=pid)
    for i in range(n):
        await rt.objects.create({"kind": cm.SERVER, "metadata": {
            "name": str(uuid.uuid4()), "namespace": pid}, "spec": {
            "displayName": f"s{i:04d}", "flavor": {"name": "m1.nano", "id": "42"}},
            "status": {"vmState": "active", "powerState": 1}})
    transport = httpx.ASGITransport(app=build_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://kumo") as c:
        wall, cpu = [], []
        for _ in range(runs):
            t, p = time.perf_counter(), time.process_time()
            r = await c.get("/console/servers", headers={"Cookie": f"kumo_session={token}",
                                                         "Accept-Encoding": "gzip"})
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - p) * 1000)
            assert r.status_code == 200 and r.text.count('<tr id="s-') == n
    await rt.objects.backend.close()
    print(f"in-process server list ({n} rows): wall p50 {statistics.median(wall):.1f} ms, "
          f"p95 {pct(wall, 95):.1f} ms; CPU p50 {statistics.median(cpu):.1f} ms, "
          f"p95 {pct(cpu, 95):.1f} ms; load average {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--in-process-only", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-console-bench-"))
    if args.in_process_only:
        try:
            asyncio.run(in_process(args.servers, args.runs, tmp / "ip"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = start(tmp / "data", port)
    base = f"http://127.0.0.1:{port}"
    try:
        admin = Admin(base, (tmp / "data" / "admin-password").read_text().strip())
        who = admin.account("bench")
        c = login(base, who.name, who.password)
        token = c.cookies["kumo_session"]
        t = time.perf_counter()
        populate(admin, who.project_id, token, args.servers)
        print(f"{args.servers} servers created and settled in {time.perf_counter() - t:.0f} s; "
              f"load average {os.getloadavg()}")
        lst, r = timed(c, "/console/servers", args.runs)
        rows = r.text.count('<tr id="s-')
        ids = [s.split('"')[0] for s in r.text.split('<tr id="s-')[1:]]
        det, _ = timed(c, f"/console/servers/{ids[0]}", args.runs)
        print(f"server list ({rows} rows): p50 {statistics.median(lst):.1f} ms, "
              f"p95 {pct(lst, 95):.1f} ms")
        print(f"server detail: p50 {statistics.median(det):.1f} ms, p95 {pct(det, 95):.1f} ms")
        print(f"page weight: {r.num_bytes_downloaded / 1024:.1f} KB transferred (gzip), "
              f"{len(r.content) / 1024:.1f} KB uncompressed; no other resources")
        lat = live_latency(base, who.name, who.password, token, ids, args.changes)
        print(f"store change -> visible in the open page: p50 {statistics.median(lat):.0f} ms, "
              f"p95 {pct(lat, 95):.0f} ms (n={len(lat)}); load average {os.getloadavg()}")
        proc.terminate()
        proc.wait(timeout=15)
        asyncio.run(in_process(args.servers, args.runs, tmp / "ip"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
