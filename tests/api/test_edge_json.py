"""Input discipline at the edge: one strict JSON reader for every API.

Each hostile body is refused with a 400 (413 when too large) in the error format of the
face it was sent to, before anything is stored; nothing it carried can poison a later list.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kumo.model import network as nm

BASE = "/apis/kumo.io/v1"
NOVA = {"OpenStack-API-Version": "compute 2.100"}

HOSTILE: dict[str, bytes] = {
    "surrogate-value": b'{"x": {"name": "a\\ud800b"}}',
    "surrogate-key": b'{"x": {"\\udfff": "v"}}',
    "nan": b'{"x": {"name": NaN}}',
    "infinity": b'{"x": {"name": Infinity}}',
    "minus-infinity": b'{"x": {"name": -Infinity}}',
    "float-overflow": b'{"x": {"name": 1e400}}',
    "huge-int": b'{"x": {"name": 18446744073709551616}}',
    "giant-int": b'{"x": {"name": ' + b"9" * 5000 + b"}}",
    "deep-33": b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}",
    "deep-100000": b'{"x": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    "nul": b'{"x": {"name": "a\\u0000b"}}',
    "not-utf8": b'{"x": {"name": "\xed\xa0\x80"}}',
}


def _wrap(raw: bytes, root: str) -> bytes:
    """The hostile document with ``x`` renamed to the face's resource key (a native
    object also gets a valid name, so only the hostile value is wrong)."""
    out = raw.replace(b'"x"', json.dumps(root).encode(), 1)
    if root == "spec":
        out = b'{"metadata": {"name": "h"}, ' + out[1:]
    return out


def test_reader_refuses_each_class() -> None:
    from kumo.api import jsonbody

    for label, raw in HOSTILE.items():
        with pytest.raises(jsonbody.BadJson):
            jsonbody.loads(raw)
        assert label
    assert jsonbody.loads(b'{"a": [1, 2.5, -3, "\\u00e9", {"b": null}]}') == {
        "a": [1, 2.5, -3, "é", {"b": None}]}
    assert jsonbody.loads(b'{"n": 9223372036854775807}') == {"n": 2**63 - 1}
    assert jsonbody.loads(b'{"s": "\\ud83d\\ude00"}') == {"s": "\U0001f600"}  # a real pair


async def _faces(api: Any) -> dict[str, tuple[str, str, dict[str, str], str]]:
    """face -> (method, url, headers, resource key) for one write route of each API."""
    p = await api.project("a")
    member = {"X-Auth-Token": await api.token(p)}
    admin = {"X-Auth-Token": await api.admin_token()}
    return {
        "native": ("POST", f"{BASE}/namespaces/{p}/configmaps", member, "spec"),
        "keystone-unauthenticated": ("POST", "/v3/auth/tokens", {}, "auth"),
        "keystone": ("POST", "/v3/projects", admin, "project"),
        "nova": ("POST", "/compute/v2.1/servers", {**member, **NOVA}, "server"),
        "nova-keypair": ("POST", "/compute/v2.1/os-keypairs", {**member, **NOVA}, "keypair"),
        "neutron": ("POST", "/network/v2.0/networks", member, "network"),
        "neutron-ports": ("POST", "/network/v2.0/ports", member, "port"),
        "glance": ("POST", "/image/v2/images", member, "name"),
    }


def assert_format(face: str, body: dict[str, Any], status: int) -> str:
    """The error is in the face's own format; its message."""
    if face == "native":
        assert body["kind"] == "Status" and body["code"] == status, body
        return body["message"]
    if face.startswith("keystone"):
        assert set(body["error"]) == {"code", "title", "message"} and \
            body["error"]["code"] == status, body
        return body["error"]["message"]
    if face.startswith("nova"):
        name = {400: "badRequest", 413: "overLimit"}[status]
        assert body[name]["code"] == status, body
        return body[name]["message"]
    if face.startswith("neutron"):
        assert set(body["NeutronError"]) == {"type", "message", "detail"}, body
        return body["NeutronError"]["message"]
    assert face == "glance"
    assert body["code"].startswith(str(status)) and body["title"], body
    return body["message"]


async def _kv_count(api: Any) -> int:
    return api.rt.objects.backend._read().execute("SELECT count(*) FROM kv").fetchone()[0]


@pytest.mark.parametrize("label", sorted(HOSTILE))
async def test_every_face_refuses_hostile_json(api: Any, label: str) -> None:
    faces = await _faces(api)
    before = await _kv_count(api)
    for face, (method, url, headers, root) in faces.items():
        r = await api.client.request(method, url, content=_wrap(HOSTILE[label], root),
                                     headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 400, (face, r.status_code, r.text[:300])
        assert assert_format(face, r.json(), 400)
    assert await _kv_count(api) == before  # nothing stored


async def test_every_face_answers_413_over_the_size_limit(api: Any) -> None:
    faces = await _faces(api)
    big = b'{"x": {"name": "' + b"a" * (2 << 20) + b'"}}'
    for face, (method, url, headers, root) in faces.items():
        r = await api.client.request(method, url, content=_wrap(big, root),
                                     headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 413, (face, r.status_code, r.text[:300])
        assert_format(face, r.json(), 413)


async def test_413_without_content_length_is_read_with_a_cap(api: Any) -> None:
    """A chunked body with no Content-Length is cut off at the limit, not buffered."""
    faces = await _faces(api)
    method, url, headers, _ = faces["neutron"]
    sent = 0

    async def chunks() -> Any:
        nonlocal sent
        yield b'{"network": {"name": "'
        for _ in range(64):  # 64 MiB offered; the reader must stop after ~1 MiB
            sent += 1
            yield b"a" * (1 << 20)

    r = await api.client.request(method, url, content=chunks(), headers=headers)
    assert r.status_code == 413
    assert sent < 8


async def test_bulk_create_uses_the_strict_reader(api: Any) -> None:
    p = await api.project("b")
    h = {"X-Auth-Token": await api.token(p)}
    r = await api.client.post("/network/v2.0/networks", headers=h,
                              content=b'{"networks": [{"name": "a\\ud800"}]}')
    assert r.status_code == 400 and "NeutronError" in r.json()
    r = await api.client.post("/network/v2.0/networks", headers=h,
                              content=b'{"networks": [{"name": NaN}]}')
    assert r.status_code == 400
    assert (await api.rt.objects.list(nm.NETWORK, p)).items == []


async def test_native_delete_options_use_the_strict_reader(api: Any) -> None:
    p = await api.project("c")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    r = await api.client.post(url, json={"metadata": {"name": "c"}, "spec": {"data": {}}},
                              headers=h)
    assert r.status_code == 201
    deep = b'{"preconditions": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    r = await api.client.request("DELETE", f"{url}/c", content=deep, headers=h)
    assert r.status_code == 400 and r.json()["kind"] == "Status"
    assert (await api.client.get(f"{url}/c", headers=h)).status_code == 200
