"""Input discipline at the edge: field types and lengths, query parameters, path segments,
and the store's own refusal of text that would break a later read."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kumo import store
from kumo.api.app import build_app
from kumo.config import Config
from kumo.server import open_runtime

BASE = "/apis/kumo.io/v1"
NOVA = {"OpenStack-API-Version": "compute 2.100"}
GLANCE_PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


# ---- the store's guard ------------------------------------------------------------
@pytest.mark.parametrize("bad", ["a\ud800", "\udfff", "nul\x00"])
async def test_store_refuses_text_that_breaks_reads(api: Any, bad: str) -> None:
    objects = api.rt.objects
    with pytest.raises(store.Invalid):
        await objects.create({"kind": "ConfigMap", "metadata": {"name": "v", "namespace": "n"},
                              "data": {"k": bad}})
    with pytest.raises(store.Invalid):
        await objects.create({"kind": "ConfigMap", "metadata": {"name": "k", "namespace": "n"},
                              "data": {bad: "v"}})
    ok = await objects.create({"kind": "ConfigMap", "metadata": {"name": "ok", "namespace": "n"},
                               "data": {"k": "é ☃ \U0001f600"}})
    changed = {**ok, "data": {"k": [bad]}}
    with pytest.raises(store.Invalid):
        await objects.update(changed)
    with pytest.raises(store.Invalid):
        await objects.mutate("ConfigMap", "n", "ok", lambda o: o["metadata"].update(
            labels={"x": bad}))
    assert (await objects.get("ConfigMap", "n", "ok"))["data"] == {"k": "é ☃ \U0001f600"}
    listed = await objects.list("ConfigMap", "n")
    assert [o["metadata"]["name"] for o in listed.items] == ["ok"]


# ---- query parameters -------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_negative_limit_does_not_block_the_loop(tmp_path: Path) -> None:
    """``?limit=-1`` is a 400 and /healthz keeps answering (on main the list never returned:
    the event loop spun and only SIGKILL ended the process). A real server in a thread,
    so a blocked loop fails this test by timeout instead of hanging it."""
    port = _free_port()
    loop = asyncio.new_event_loop()
    rt = loop.run_until_complete(open_runtime(Config(data_dir=tmp_path / "d",
                                                     listen=f"127.0.0.1:{port}")))
    server = uvicorn.Server(uvicorn.Config(build_app(rt), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),),
                              daemon=True)
    thread.start()
    try:
        deadline = time.time() + 10
        while not server.started and time.time() < deadline:
            time.sleep(0.02)
        assert server.started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            h = {"X-Auth-Token": _admin_token(rt, loop)}
            for bad in ("-1", "-5", str(2**64), "1e3", "\u0661\u0662"):
                r = c.get(f"{BASE}/configmaps?limit={bad}", headers=h)
                assert r.status_code == 400, (bad, r.text)
                assert r.json()["kind"] == "Status"
            assert c.get("/healthz").text == "ok"
            assert c.get(f"{BASE}/configmaps?limit=1", headers=h).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
    if not thread.is_alive():
        loop.run_until_complete(rt.objects.backend.close())
        loop.close()


def _admin_token(rt: Any, loop: asyncio.AbstractEventLoop) -> str:
    async def ids() -> tuple[str, str]:
        proj = await rt.objects.list("Project", "", label_selector="name=admin")
        user = await rt.objects.list("User", "", label_selector="name=admin")
        return proj.items[0]["metadata"]["name"], user.items[0]["metadata"]["name"]

    pid, uid = asyncio.run_coroutine_threadsafe(ids(), loop).result(5)
    return rt.tokens.issue(uid, methods=["password"], project_id=pid)


async def test_native_query_integers_are_bounded(api: Any) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    for q in (f"limit={2**70}", "limit=-1", "timeoutSeconds=-1&watch=true",
              f"watch=true&resourceVersion={2**70}", "watch=true&resourceVersion=-3"):
        r = await api.client.get(f"{url}?{q}", headers=h)
        assert r.status_code == 400, (q, r.text)
        assert r.json()["kind"] == "Status"
    # a continue token holding a lone surrogate (base64 of ["\ud800","x"]) is refused
    r = await api.client.get(f"{url}?limit=1&continue=WyJcdWQ4MDAiLCJ4Il0", headers=h)
    assert r.status_code == 422


# ---- types and lengths --------------------------------------------------------------
async def test_native_bounds_metadata_and_configmap_data(api: Any) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    bad = [
        {"metadata": {"name": "a"}, "data": {"k": 5}},
        {"metadata": {"name": "b"}, "data": {"k": {"a": 1}}},
        {"metadata": {"name": "c"}, "data": {"x" * 254: "v"}},
        {"metadata": {"name": "d"}, "data": {"a b": "v"}},
        {"metadata": {"name": "e", "labels": {"x" * 318: "v"}}},
        {"metadata": {"name": "f", "labels": {"k": "v" * 256}}},
        {"metadata": {"name": "g", "annotations": {"k": "v" * (257 * 1024)}}},
    ]
    for body in bad:
        r = await api.client.post(url, json=body, headers=h)
        assert r.status_code == 422, (body["metadata"]["name"], r.text[:200])
    assert (await api.rt.objects.list("ConfigMap", p)).items == []
    r = await api.client.post(url, json={"metadata": {"name": "ok", "labels": {"k": "v"}},
                                         "data": {"a.b-c_d": "v" * 1000}}, headers=h)
    assert r.status_code == 201, r.text
    for body in ({"metadata": 5}, {"metadata": "x"}):
        r = await api.client.patch(f"{url}/ok", json=body, headers={
            **h, "Content-Type": "application/merge-patch+json"})
        assert r.status_code == 422, r.text
        r = await api.client.put(f"{url}/ok", json=body, headers=h)
        assert r.status_code == 422, r.text


async def test_keystone_bounds_descriptions_tags_passwords(api: Any) -> None:
    h = {"X-Auth-Token": await api.admin_token()}
    bad = [
        ("/v3/projects", {"project": {"name": "p1", "description": "x" * 65536}}),
        ("/v3/projects", {"project": {"name": "p2", "tags": ["x" * 256]}}),
        ("/v3/projects", {"project": {"name": "p3", "tags": ["a/b"]}}),
        ("/v3/projects", {"project": {"name": "p4", "tags": [str(i) for i in range(81)]}}),
        ("/v3/users", {"user": {"name": "u1", "password": "x" * 4097}}),
        ("/v3/users", {"user": {"name": "u2", "email": "x" * 256}}),
        ("/v3/roles", {"role": {"name": "r1", "description": "x" * 256}}),
        ("/v3/groups", {"group": {"name": "g1", "description": "x" * 65536}}),
    ]
    for url, body in bad:
        r = await api.client.post(url, json=body, headers=h)
        assert r.status_code == 400, (body, r.text[:200])
        assert set(r.json()["error"]) == {"code", "title", "message"}
    r = await api.client.post("/v3/projects", headers=h, json={"project": {
        "name": "fine", "description": "x" * 65535, "tags": ["a", "b"]}})
    assert r.status_code == 201, r.text


async def test_glance_property_values_are_bounded(api: Any) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    r = await api.client.post("/image/v2/images", headers=h, json={"name": "i",
                                                                 "prop": "x" * 65536})
    assert r.status_code == 400 and r.json()["code"].startswith("400")
    r = await api.client.post("/image/v2/images", headers=h, json={"name": "i", "prop": "ok"})
    assert r.status_code == 201
    iid = r.json()["id"]
    r = await api.client.patch(f"/image/v2/images/{iid}", headers={**h, **GLANCE_PATCH},
                               json=[{"op": "add", "path": "/other", "value": "x" * 65536}])
    assert r.status_code == 400


# ---- path segments --------------------------------------------------------------
@pytest.mark.parametrize("seg", ["%00", "a%00b", "%01", "%E2%98%83", "%ED%A0%80", "%FF",
                                 "9" * 40, "18446744073709551616"])
async def test_hostile_path_segments_are_4xx(api: Any, seg: str) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p), **NOVA}
    net = (await api.client.post("/network/v2.0/networks", headers=h,
                                 json={"network": {"name": "n"}})).json()["network"]["id"]
    urls = [("GET", f"/network/v2.0/networks/{seg}"), ("GET", f"/compute/v2.1/servers/{seg}"), ("GET", f"/compute/v2.1/flavors/{seg}"),
            ("GET", f"/compute/v2.1/os-keypairs/{seg}"), ("GET", f"/image/v2/images/{seg}"),
            ("GET", f"/v3/projects/{seg}"), ("GET", f"{BASE}/namespaces/{p}/configmaps/{seg}"),
            ("GET", f"{BASE}/namespaces/{seg}/configmaps"), ("GET", f"{BASE}/{seg}")]
    if "%00" in seg:  # a tag (not an id) may be any text, but never one the store refuses
        urls.append(("PUT", f"/network/v2.0/networks/{net}/tags/{seg}"))
    before = api.rt.objects.backend._read().execute("SELECT count(*) FROM kv").fetchone()[0]
    for method, url in urls:
        r = await api.client.request(method, url, headers=h)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:200])
    after = api.rt.objects.backend._read().execute("SELECT count(*) FROM kv").fetchone()[0]
    assert after == before


def test_console_tail_drops_the_nuls_the_store_refuses(tmp_path: Path) -> None:
    """Firmware writes NULs to the serial console; the uploaded ConsoleLog must not carry
    them (the store refuses NUL), or the agent's console upload would fail forever."""
    from kumo.drivers.qemu_vmdir import _tail

    log = tmp_path / "console.log"
    log.write_bytes(b"\x00\x00boot\x00ing\r\nlogin: \xff\n")
    text = _tail(log, None)
    assert "\x00" not in text and text.startswith("booting\nlogin: ")
    store.objects.check_text({"spec": {"text": text}})
