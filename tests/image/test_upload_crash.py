"""Crash mid-upload: the API process is SIGKILLed while an image streams in; after a
restart the image is ``queued`` again (no partial data left) and a new upload succeeds."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kumo.core import images
from tests.apiprocess import ApiProcess

pytestmark = [pytest.mark.slow]
JSON = {"Content-Type": "application/json"}


class Api(ApiProcess):
    """`kumo api` (control plane only, no agent, no image build) as a killable process."""

    @property
    def base(self) -> str:
        return self.url

    def image(self, token: str, iid: str) -> dict:
        r = httpx.get(f"{self.base}/image/v2/images/{iid}", headers={"X-Auth-Token": token},
                      timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    a = Api(tmp_path / "data")
    try:
        yield a
    finally:
        if a.proc is not None:
            a.kill(signal.SIGKILL)
        shutil.rmtree(tmp_path, ignore_errors=True)


def _slow_upload(api: Api, token: str, iid: str) -> threading.Thread:
    def chunks() -> Iterator[bytes]:
        for _ in range(10_000):  # far longer than the test lets it run
            yield os.urandom(64 * 1024)
            time.sleep(0.02)

    def run() -> None:
        try:
            httpx.put(f"{api.base}/image/v2/images/{iid}/file", content=chunks(), timeout=60,
                      headers={"X-Auth-Token": token,
                               "Content-Type": "application/octet-stream"})
        except httpx.HTTPError:
            pass  # the server died under it: expected

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _wait(what: str, predicate, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout}s")


def test_image_saving_at_a_crash_is_queued_after_restart(api: Api) -> None:
    api.start()
    token = api.token()
    h = {"X-Auth-Token": token}
    r = httpx.post(api.base + "/image/v2/images", headers={**h, **JSON}, timeout=30, json={
        "name": "crash-me", "disk_format": "raw", "container_format": "bare"})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    tmp = api.data_dir / "blobs" / "tmp"

    uploader = _slow_upload(api, token, iid)
    _wait("saving with a partial file", lambda: api.image(token, iid)["status"] == "saving"
          and any(tmp.glob(f"{iid}.*.part")), 20)
    time.sleep(images.HEARTBEAT_SECONDS + 0.5)  # at least one heartbeat renewed
    api.kill(signal.SIGKILL)  # no handler, no finally, no cleanup
    killed_at = time.monotonic()
    uploader.join(timeout=30)
    assert any(tmp.glob(f"{iid}.*.part"))  # the dead process left its partial data

    api.start()
    token = api.token()
    assert api.image(token, iid)["status"] == "saving"  # nothing else resets it
    _wait("queued again", lambda: api.image(token, iid)["status"] == "queued",
          images.ABANDONED_AFTER + 20)
    assert time.monotonic() - killed_at < images.ABANDONED_AFTER + 25
    assert not any(tmp.glob(f"{iid}.*.part"))
    shown = api.image(token, iid)
    assert shown["size"] is None and shown["checksum"] is None

    data = os.urandom(2 * 1024 * 1024 + 7)
    r = httpx.put(f"{api.base}/image/v2/images/{iid}/file", content=data, timeout=60,
                  headers={**h, "X-Auth-Token": token,
                           "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    shown = api.image(token, iid)
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    back = httpx.get(f"{api.base}/image/v2/images/{iid}/file",
                     headers={"X-Auth-Token": token}, timeout=60)
    assert back.content == data
