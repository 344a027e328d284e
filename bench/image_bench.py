"""Image data throughput: upload and download of a 100 MiB image over real HTTP.

Starts its own server on a free loopback port in a temp data dir: a `kumo up`
(fake driver, no image build) when that serves /image, else the image API alone
under uvicorn (httptools + uvloop, as `kumo up` runs it) in a child process.
The client is httpx in this process. Upload figures include the server's md5 +
sha512 (+ sha256 for the blob address) and the fsync; the baseline writes the
same bytes to disk with md5 + sha512 in one thread, without HTTP. Run:
    .venv/bin/python bench/image_bench.py [--size-mib 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from conftest import LiveCloud, free_port  # noqa: E402

MiB = 1 << 20
CHUNK = MiB
GOAL_UP, GOAL_DOWN = 150.0, 400.0
GLANCE_UP, GLANCE_DOWN = 63.0, 195.0


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


# ---- baseline ---------------------------------------------------------------
def disk_baseline(data: bytes, directory: Path) -> float:
    """Write + fsync + md5 + sha512 in one thread, 8 MiB at a time."""
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    path = directory / "baseline.bin"
    t = time.perf_counter()
    with open(path, "wb") as f:
        for i in range(0, len(data), 8 * MiB):
            block = data[i:i + 8 * MiB]
            md5.update(block)
            sha512.update(block)
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    seconds = time.perf_counter() - t
    path.unlink()
    return mbps(len(data), seconds)


def blobstore_baseline(data: bytes, directory: Path) -> float:
    """BlobStore.write_stream alone (the server's pipeline minus HTTP)."""
    from kumo.store.blobs import BlobStore

    async def run() -> float:
        bs = BlobStore(directory / "bs")

        async def chunks():  # the sizes uvicorn hands over
            for i in range(0, len(data), 64 * 1024):
                yield data[i:i + 64 * 1024]

        t = time.perf_counter()
        info = await bs.write_stream(chunks(), max_bytes=1 << 40)
        seconds = time.perf_counter() - t
        bs.release(info.sha256)
        bs.close()
        return mbps(len(data), seconds)

    return asyncio.run(run())


# ---- servers ----------------------------------------------------------------
def serve_image_app(data_dir: Path, port: int) -> None:
    """Child process: the image API alone, with a token written for the bench."""
    import uvicorn
    from tests.image.conftest import build_image_app, open_test_runtime

    async def main() -> None:
        rt = await open_test_runtime(data_dir)
        from kumo.model import identity as m

        admin_project = (await rt.objects.list(m.PROJECT, "", label_selector="name=admin")
                         ).items[0]["metadata"]["name"]
        role = (await rt.objects.list(m.ROLE, "", label_selector="name=admin")).items[0]
        uid = m.new_id()
        await rt.objects.create(m.obj(m.USER, uid, {"name": "bench", "domainId": "default",
                                                    "enabled": True}, {"name": "bench"}))
        rid = role["metadata"]["name"]
        await rt.objects.create(m.obj(
            m.ROLE_ASSIGNMENT, m.assignment_name("project", admin_project, "user", uid, rid),
            {"userId": uid, "projectId": admin_project, "roleId": rid},
            {"user": uid, "project": admin_project, "role": rid}))
        token = rt.tokens.issue(uid, methods=["password"], project_id=admin_project)
        (data_dir / "bench-token").write_text(token)
        config = uvicorn.Config(build_image_app(rt), host="127.0.0.1", port=port,
                                log_config=None, access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        await server.serve()

    asyncio.run(main())


class Server:
    """A running API endpoint: its image URL, a token, and how to stop it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.kind = ""
        self.base = ""
        self.token = ""
        self._cloud: LiveCloud | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not self._try_kumo_up():
            self._start_uvicorn()

    def _try_kumo_up(self) -> bool:
        cloud = LiveCloud(self.tmp / "kumo" / "data", free_port(),
                          args=["--driver", "fake", "--no-image"])
        cloud.data_dir.mkdir(parents=True)
        try:
            cloud.start(timeout=60)
            if httpx.get(cloud.base_url + "/image/").status_code != 300:
                raise RuntimeError("kumo up does not serve /image yet")
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "password": cloud.admin_password,
                "domain": {"id": "default"}}}}, "scope": {"project": {
                    "name": "admin", "domain": {"id": "default"}}}}}
            r = httpx.post(cloud.base_url + "/v3/auth/tokens", json=body)
            r.raise_for_status()
        except Exception as exc:  # noqa: BLE001 - any failure means: use the fallback
            lines = [ln.strip(" │") for ln in str(exc).splitlines() if "Error" in ln]
            reason = lines[-1] if lines else type(exc).__name__
            print(f"  (kumo up not usable for this bench: {reason[:100]}; "
                  "serving the image API alone)")
            cloud.stop()
            return False
        self._cloud, self.kind = cloud, "kumo up"
        self.base, self.token = cloud.base_url + "/image", r.headers["x-subject-token"]
        return True

    def _start_uvicorn(self) -> None:
        data_dir = self.tmp / "image" / "data"
        port = free_port()
        self._proc = subprocess.Popen([sys.executable, __file__, "--serve", str(data_dir),
                                       str(port)], cwd=ROOT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/image/").status_code == 300:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the image server did not start")
        self.kind = "image API under uvicorn (httptools, uvloop)"
        self.base = f"http://127.0.0.1:{port}/image"
        self.token = (data_dir / "bench-token").read_text()

    def stop(self) -> None:
        if self._cloud is not None:
            self._cloud.stop()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=15)


# ---- HTTP runs --------------------------------------------------------------
def slices(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for i in range(0, len(data), CHUNK):
        yield bytes(view[i:i + CHUNK])


def upload(client: httpx.Client, srv: Server, data: bytes, chunked: bool) -> tuple[float, str]:
    h = {"X-Auth-Token": srv.token}
    r = client.post(f"{srv.base}/v2/images", headers=h, json={
        "name": "bench", "disk_format": "raw", "container_format": "bare"})
    r.raise_for_status()
    image_id = r.json()["id"]
    headers = {**h, "Content-Type": "application/octet-stream"}
    if not chunked:
        headers["Content-Length"] = str(len(data))
    t = time.perf_counter()
    r = client.put(f"{srv.base}/v2/images/{image_id}/file", headers=headers,
                   content=slices(data))
    seconds = time.perf_counter() - t
    assert r.status_code == 204, r.text
    return mbps(len(data), seconds), image_id


def download(client: httpx.Client, srv: Server, image_id: str, verify: bool
             ) -> tuple[float, str | None]:
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    n = 0
    t = time.perf_counter()
    with client.stream("GET", f"{srv.base}/v2/images/{image_id}/file",
                       headers={"X-Auth-Token": srv.token}) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw(CHUNK):
            n += len(chunk)
            if verify:
                md5.update(chunk)
                sha512.update(chunk)
    seconds = time.perf_counter() - t
    return mbps(n, seconds), (md5.hexdigest() + sha512.hexdigest()) if verify else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve_image_app(Path(args.serve[0]), int(args.serve[1]))
        return
    size = args.size_mib * MiB
    tmp = Path(tempfile.mkdtemp(prefix="kumo-image-bench-"))
    srv = Server(tmp)
    try:
        data = os.urandom(size)
        want = hashlib.md5(data).hexdigest() + hashlib.sha512(data).hexdigest()
        print(f"image bench: {args.size_mib} MiB, best of {args.runs} runs, "
              f"{os.cpu_count()} CPUs")
        base = max(disk_baseline(data, tmp) for _ in range(args.runs))
        bs = max(blobstore_baseline(data, tmp) for _ in range(args.runs))
        srv.start()
        print(f"  server: {srv.kind}")
        ups, chunked, downs = [], [], []
        with httpx.Client(timeout=300) as client:
            for _ in range(args.runs):
                rate, image_id = upload(client, srv, data, chunked=False)
                ups.append(rate)
                chunked.append(upload(client, srv, data, chunked=True)[0])
                downs.append(download(client, srv, image_id, verify=False)[0])
            verified_rate, digest = download(client, srv, image_id, verify=True)
            shown = client.get(f"{srv.base}/v2/images/{image_id}",
                               headers={"X-Auth-Token": srv.token}).json()
        assert digest == want, "downloaded bytes differ from the upload"
        assert shown["checksum"] + shown["os_hash_value"] == want, "server hashes are wrong"
        up, down = max(ups), max(downs)
        print(f"  baseline disk write+fsync+md5+sha512, 1 thread, no HTTP: {base:7.1f} MB/s")
        print(f"  BlobStore.write_stream (md5+sha512+sha256, fsync), no HTTP: {bs:7.1f} MB/s")
        print(f"  upload   PUT /file, Content-Length:   {up:7.1f} MB/s  (goal >= {GOAL_UP:.0f}, "
              f"Glance {GLANCE_UP:.0f})  {'OK' if up >= GOAL_UP else 'BELOW GOAL'}")
        print(f"  upload   PUT /file, chunked:          {max(chunked):7.1f} MB/s")
        print(f"  download GET /file:                   {down:7.1f} MB/s  (goal >= "
              f"{GOAL_DOWN:.0f}, Glance {GLANCE_DOWN:.0f})  "
              f"{'OK' if down >= GOAL_DOWN else 'BELOW GOAL'}")
        print(f"  download + client md5/sha512 check:   {verified_rate:7.1f} MB/s "
              "(bytes and hashes verified)")
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
