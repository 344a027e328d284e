"""Image data: upload state machine, streaming, hashes, failures → killed, download."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kumo.api.openstack.image import app as image
from kumo.api.openstack.image import data as image_data
from kumo.store.blobs import BlobStore

from .conftest import Glance, build_image_app, digests

Message = dict[str, Any]


async def state_of(glance: Glance, image_id: str) -> str:
    return (await glance.rt.objects.get("Image", "", image_id))["status"]["state"]


async def test_upload_download_roundtrip(glance: Glance, member) -> None:
    _, tok = member
    data = os.urandom(5 * 1024 * 1024 + 123)
    img = await glance.create(tok, name="blob", disk_format="qcow2")
    r = await glance.upload(tok, img["id"], data)
    assert r.status_code == 204 and r.content == b""
    out = await glance.show(tok, img["id"])
    want = digests(data)
    assert out["status"] == "active" and out["size"] == len(data)
    assert out["checksum"] == want["md5"]
    assert out["os_hash_algo"] == "sha512" and out["os_hash_value"] == want["sha512"]
    r = await glance.request("GET", f"/v2/images/{img['id']}/file", tok)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-md5"] == want["md5"]
    assert r.headers["content-type"] == "application/octet-stream"
    assert int(r.headers["content-length"]) == len(data)
    obj = await glance.rt.objects.get("Image", "", img["id"])
    assert obj["status"]["blob"] == want["sha256"]
    assert [p.name for p in glance.blob_files()] == [want["sha256"]]
    assert glance.temp_files() == []


async def test_chunked_upload_without_length(glance: Glance, member) -> None:
    _, tok = member
    parts = [os.urandom(100_000) for _ in range(20)]

    async def gen() -> AsyncIterator[bytes]:
        for p in parts:
            yield p

    img = await glance.create(tok, name="chunked")
    r = await glance.upload(tok, img["id"], gen())
    assert r.status_code == 204
    assert (await glance.show(tok, img["id"]))["checksum"] == digests(b"".join(parts))["md5"]


async def test_range_download(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="r")
    await glance.upload(tok, img["id"], b"0123456789")
    r = await glance.request("GET", f"/v2/images/{img['id']}/file", tok,
                             headers={"Range": "bytes=2-5"})
    assert r.status_code == 206 and r.content == b"2345"
    assert r.headers["content-range"] == "bytes 2-5/10"
    r = await glance.request("HEAD", f"/v2/images/{img['id']}/file", tok)
    assert r.status_code == 200 and r.headers["content-length"] == "10" and r.content == b""


async def test_upload_preconditions(glance: Glance, member) -> None:
    pid, tok = member
    img = await glance.create(tok, name="u")
    r = await glance.upload(tok, img["id"], b"x", **{"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = await glance.request("GET", f"/v2/images/{img['id']}/file", tok)
    assert r.status_code == 204 and r.content == b""
    reader = await glance.token(pid, "reader")
    assert (await glance.upload(reader, img["id"], b"x")).status_code == 403
    other = await glance.token(await glance.project("beta"))
    assert (await glance.upload(other, img["id"], b"x")).status_code == 404
    assert (await glance.upload(tok, img["id"], b"x")).status_code == 204
    r = await glance.upload(tok, img["id"], b"again")
    assert r.status_code == 409 and r.json()["code"] == "409 Conflict"
    r = await glance.request("POST", "/v2/images", tok, json={"name": "noformat"})
    bare = r.json()
    r = await glance.upload(tok, bare["id"], b"x")
    assert r.status_code == 400 and "disk_format" in r.json()["message"]
    assert await state_of(glance, bare["id"]) == "queued"
    assert (await glance.upload(tok, "0" * 8 + "-0000-0000-0000-" + "0" * 12, b"x")
            ).status_code == 404


async def test_oversize_upload_is_413_and_killed(glance: Glance, member) -> None:
    _, tok = member
    glance.rt.config.image_size_cap = 1_000_000  # type: ignore[attr-defined]

    async def gen() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"o" * 100_000

    img = await glance.create(tok, name="big")
    r = await glance.upload(tok, img["id"], gen())
    assert r.status_code == 413 and r.json()["title"] == "Request Entity Too Large"
    assert await state_of(glance, img["id"]) == "killed"
    assert glance.temp_files() == [] and glance.blob_files() == []
    declared = await glance.create(tok, name="declared")
    r = await glance.upload(tok, declared["id"], b"d" * 1_000_001)
    assert r.status_code == 413
    assert (await glance.show(tok, declared["id"]))["status"] == "killed"
    r = await glance.request("GET", f"/v2/images/{img['id']}/file", tok)
    assert r.status_code == 204
    assert (await glance.upload(tok, img["id"], b"x")).status_code == 409


async def test_disk_full_is_413_and_killed(glance: Glance, member) -> None:
    _, tok = member
    root = glance.rt.config.data_dir / "blobs"

    def small_disk(path: Any) -> int:
        return 2_000_000 - sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

    image_data.use_blob_store(glance.rt, BlobStore(root, reserve_bytes=500_000,
                                                   batch_bytes=200_000, free_bytes=small_disk))
    img = await glance.create(tok, name="full")

    async def gen() -> AsyncIterator[bytes]:
        for _ in range(30):
            yield b"f" * 100_000

    r = await glance.upload(tok, img["id"], gen())
    assert r.status_code == 413 and "full" in r.json()["message"]
    assert await state_of(glance, img["id"]) == "killed"
    assert glance.temp_files() == [] and glance.blob_files() == []


async def test_short_body_against_declared_size_is_killed(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="short")
    r = await glance.upload(tok, img["id"], b"x" * 100, **{"X-Openstack-Image-Size": "200"})
    assert r.status_code == 400
    assert await state_of(glance, img["id"]) == "killed"
    r = await glance.upload(tok, (await glance.create(tok, name="s2"))["id"], b"x",
                            **{"X-Openstack-Image-Size": "many"})
    assert r.status_code == 400


async def test_exception_mid_stream_kills_the_image(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="broken")

    async def gen() -> AsyncIterator[bytes]:
        yield b"a" * 3_000_000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await glance.upload(tok, img["id"], gen())
    assert await state_of(glance, img["id"]) == "killed"
    assert glance.temp_files() == [] and glance.blob_files() == []


async def raw_put(glance: Glance, tok: str, image_id: str,
                  receive: Callable[[], Awaitable[Message]], length: int) -> list[Message]:
    """Drive the ASGI app directly, as a server would for a client that misbehaves."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    path = f"/image/v2/images/{image_id}/file"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "PUT", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "client": ("127.0.0.1", 5000),
             "server": ("kumo", 80),
             "headers": [(b"host", b"kumo"), (b"x-auth-token", tok.encode()),
                         (b"content-type", b"application/octet-stream"),
                         (b"content-length", str(length).encode())]}
    await build_image_app(glance.rt)(scope, receive, send)
    return sent


async def test_cut_off_upload_is_killed(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="cut")
    messages = [{"type": "http.request", "body": b"c" * 1_000_000, "more_body": True},
                {"type": "http.request", "body": b"c" * 1_000_000, "more_body": True},
                {"type": "http.disconnect"}]

    async def receive() -> Message:
        return messages.pop(0)

    sent = await raw_put(glance, tok, img["id"], receive, 5_000_000)
    assert sent[0]["status"] == 400
    assert await state_of(glance, img["id"]) == "killed"
    assert glance.temp_files() == [] and glance.blob_files() == []


async def test_image_deleted_during_upload_is_gone(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="vanishing")
    sent_parts = 0

    async def receive() -> Message:
        nonlocal sent_parts
        sent_parts += 1
        if sent_parts == 2:
            await image.delete_image(glance.rt, img["id"])
        return {"type": "http.request", "body": b"v" * 500_000, "more_body": sent_parts < 3}

    sent = await raw_put(glance, tok, img["id"], receive, 1_500_000)
    assert sent[0]["status"] == 410
    assert glance.blob_files() == [] and glance.temp_files() == []


async def test_identical_images_share_a_blob_until_both_are_gone(glance: Glance, member) -> None:
    _, tok = member
    data = os.urandom(300_000)
    a = await glance.create(tok, name="a")
    b = await glance.create(tok, name="b")
    await glance.upload(tok, a["id"], data)
    await glance.upload(tok, b["id"], data)
    assert len(glance.blob_files()) == 1
    assert (await glance.request("DELETE", f"/v2/images/{a['id']}", tok)).status_code == 204
    assert len(glance.blob_files()) == 1
    r = await glance.request("GET", f"/v2/images/{b['id']}/file", tok)
    assert r.content == data
    assert (await glance.request("DELETE", f"/v2/images/{b['id']}", tok)).status_code == 204
    assert glance.blob_files() == []


async def test_deactivated_images_are_admin_download_only(glance: Glance, member) -> None:
    _, tok = member
    admin = await glance.admin_token()
    img = await glance.create(tok, name="deact")
    await glance.upload(tok, img["id"], b"secret")
    r = await glance.request("POST", f"/v2/images/{img['id']}/actions/deactivate", tok)
    assert r.status_code == 204
    assert (await glance.show(tok, img["id"]))["status"] == "deactivated"
    assert (await glance.request("GET", f"/v2/images/{img['id']}/file", tok)).status_code == 403
    r = await glance.request("GET", f"/v2/images/{img['id']}/file", admin)
    assert r.content == b"secret"
    r = await glance.request("POST", f"/v2/images/{img['id']}/actions/reactivate", tok)
    assert r.status_code == 204
    assert (await glance.request("GET", f"/v2/images/{img['id']}/file", tok)).content == b"secret"
    queued = await glance.create(tok, name="q")
    r = await glance.request("POST", f"/v2/images/{queued['id']}/actions/deactivate", tok)
    assert r.status_code == 403


async def test_private_image_data_is_isolated(glance: Glance, member) -> None:
    _, tok = member
    img = await glance.create(tok, name="p", visibility="private")
    await glance.upload(tok, img["id"], b"mine")
    other = await glance.token(await glance.project("beta"))
    r = await glance.request("GET", f"/v2/images/{img['id']}/file", other)
    assert r.status_code == 404


async def test_import_image_is_idempotent(glance: Glance, tmp_path) -> None:
    f = tmp_path / "disk.qcow2"
    data = os.urandom(2_000_000)
    f.write_bytes(data)
    kernel = await image.import_image(glance.rt, name="k", disk_format="aki",
                                      container_format="aki", path=f, properties={})
    first = await image.import_image(
        glance.rt, name="tiny", disk_format="qcow2", container_format="bare", path=f,
        properties={"kernel_id": kernel["id"], "os_distro": "kumo-tiny", "n": 1})
    assert first["status"] == "active" and first["visibility"] == "public"
    assert first["owner"] == await glance.admin_project()
    assert first["kernel_id"] == kernel["id"] and first["n"] == "1"
    assert first["checksum"] == digests(data)["md5"]
    again = await image.import_image(glance.rt, name="tiny", disk_format="qcow2",
                                     container_format="bare", path=f, properties={})
    assert again["id"] == first["id"]
    # a leftover of an interrupted import is replaced
    obj = await glance.rt.objects.get("Image", "", first["id"])
    obj["status"] = {"state": "killed"}
    await glance.rt.objects.update(obj)
    redone = await image.import_image(glance.rt, name="tiny", disk_format="qcow2",
                                      container_format="bare", path=f, properties={})
    assert redone["status"] == "active" and redone["id"] == first["id"]
    tok = await glance.token(await glance.project("anyone"), "reader")
    r = await glance.request("GET", f"/v2/images/{redone['id']}/file", tok)
    assert r.content == data


async def test_upload_does_not_hold_the_event_loop(glance: Glance, member) -> None:
    """While a large upload streams, other requests are still answered."""
    import asyncio

    _, tok = member
    img = await glance.create(tok, name="busy")
    served: list[int] = []

    async def gen() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield os.urandom(1 << 20)
            await asyncio.sleep(0)

    async def poll() -> None:
        while len(served) < 5:
            r = await glance.request("GET", "/v2/images", tok)
            served.append(r.status_code)

    upload = asyncio.create_task(glance.upload(tok, img["id"], gen()))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout=30)
    assert not upload.done(), "the polls should have been answered mid-upload"
    assert (await upload).status_code == 204
    assert served == [200] * 5
