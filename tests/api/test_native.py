"""The native resource API: CRUD, CAS, status subresource, patch, watch, policy."""

from __future__ import annotations

import asyncio
import json

import httpx

from kumo.api import native

BASE = "/apis/kumo.io/v1"
MERGE = {"Content-Type": "application/merge-patch+json"}


def cm(name: str, data: dict | None = None, **md) -> dict:
    return {"apiVersion": "kumo.io/v1", "kind": "ConfigMap",
            "metadata": {"name": name, **md}, "spec": {"data": data or {}}}


async def test_discovery(api) -> None:
    r = await api.client.get("/apis")
    assert r.json()["groups"][0]["name"] == "kumo.io"
    r = await api.client.get(f"{BASE}")
    names = {x["name"] for x in r.json()["resources"]}
    assert {"configmaps", "configmaps/status", "servers", "hosts"} <= names


async def test_crud_and_conflict(api) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    r = await api.client.post(url, json=cm("c1", {"k": "v"}), headers=h)
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["metadata"]["uid"] and obj["metadata"]["generation"] == 1
    r = await api.client.post(url, json=cm("c1"), headers=h)
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    stale = json.loads(json.dumps(obj))
    obj["spec"]["data"]["k"] = "v2"
    r = await api.client.put(f"{url}/c1", json=obj, headers=h)
    assert r.status_code == 200 and r.json()["metadata"]["generation"] == 2
    stale["spec"]["data"]["k"] = "lost"
    r = await api.client.put(f"{url}/c1", json=stale, headers=h)
    assert r.status_code == 409
    body = r.json()
    assert body["kind"] == "Status" and body["reason"] == "Conflict" and body["code"] == 409
    assert (await api.client.get(f"{url}/c1", headers=h)).json()["spec"]["data"]["k"] == "v2"
    r = await api.client.get(url, headers=h)
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["c1"]
    assert r.json()["kind"] == "ConfigMapList"
    r = await api.client.delete(f"{url}/c1", headers=h)
    assert r.status_code == 200
    assert (await api.client.get(f"{url}/c1", headers=h)).status_code == 404


async def test_bad_input_is_a_status(api) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    r = await api.client.post(url, content=b"{nope", headers=h)
    assert r.status_code == 400 and r.json()["kind"] == "Status"
    r = await api.client.post(url, json={"metadata": {}}, headers=h)
    assert r.status_code == 422
    r = await api.client.post(url, json=cm("x", labels={"a": 1}), headers=h)
    assert r.status_code == 422 and "labels" in r.json()["message"]
    r = await api.client.post(url, content=b"x" * (2 << 20), headers=h)
    assert r.status_code == 413
    r = await api.client.get(f"{BASE}/namespaces/{p}/nothings", headers=h)
    assert r.status_code == 404
    r = await api.client.get(url)
    assert r.status_code == 401 and r.json()["kind"] == "Status"


async def test_status_subresource_and_generation(api) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    obj = (await api.client.post(url, json={**cm("s"), "status": {"x": 1}}, headers=h)).json()
    assert "status" not in obj  # status is not settable on create
    r = await api.client.patch(f"{url}/s/status", json={"status": {"ready": True},
                                                         "spec": {"data": {"no": "no"}}},
                               headers={**h, **MERGE})
    assert r.status_code == 200
    got = r.json()
    assert got["status"] == {"ready": True} and got["spec"]["data"] == {}
    assert got["metadata"]["generation"] == 1
    got["status"] = {"ready": False}
    got["spec"]["data"] = {"k": "v"}
    r = await api.client.put(f"{url}/s", json=got, headers=h)
    assert r.json()["status"] == {"ready": True}  # main resource ignores status
    assert r.json()["metadata"]["generation"] == 2


async def test_finalizers_and_owner_gc(api) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.admin_token()}  # members never set finalizers (issue 17)
    url = f"{BASE}/namespaces/{p}/configmaps"
    await api.client.post(url, json=cm("f", finalizers=["kumo.io/test"]), headers=h)
    r = await api.client.delete(f"{url}/f", headers=h)
    assert r.json()["metadata"]["deletionTimestamp"]
    assert (await api.client.get(f"{url}/f", headers=h)).status_code == 200
    r = await api.client.patch(f"{url}/f", json={"metadata": {"finalizers": None}},
                               headers={**h, **MERGE})
    assert (await api.client.get(f"{url}/f", headers=h)).status_code == 404


async def test_annotation_race_slides_43_46(api) -> None:
    """An agent patches its own annotation while a controller writes annotations
    computed from older data: the agent's key survives; a stale PUT gets 409."""
    h = {"X-Auth-Token": await api.admin_token()}
    url = f"{BASE}/hosts"
    await api.client.post(url, json={"kind": "Host", "metadata": {
        "name": "node1", "annotations": {"owner": "ops"}}, "spec": {}}, headers=h)
    controller_view = (await api.client.get(f"{url}/node1", headers=h)).json()
    # the agent (flannel's role in the talk) publishes its VTEP MAC
    r = await api.client.patch(f"{url}/node1", headers={**h, **MERGE}, json={
        "metadata": {"annotations": {"flannel.alpha.coreos.com/backend-data": "mac-1"}}})
    assert r.status_code == 200
    # the controller, from older data, patches only its own key: both survive
    r = await api.client.patch(f"{url}/node1", headers={**h, **MERGE}, json={
        "metadata": {"annotations": {"controller/seen": "yes"}}})
    ann = r.json()["metadata"]["annotations"]
    assert ann["flannel.alpha.coreos.com/backend-data"] == "mac-1"
    assert ann["controller/seen"] == "yes" and ann["owner"] == "ops"
    # the controller writes the whole object from its stale copy: refused, nothing lost
    controller_view["metadata"]["annotations"] = {"owner": "ops", "controller/seen": "again"}
    r = await api.client.put(f"{url}/node1", json=controller_view, headers=h)
    assert r.status_code == 409
    now = (await api.client.get(f"{url}/node1", headers=h)).json()
    assert now["metadata"]["annotations"]["flannel.alpha.coreos.com/backend-data"] == "mac-1"


async def test_concurrent_patches_lose_nothing(api) -> None:
    h = {"X-Auth-Token": await api.admin_token(), **MERGE}
    await api.client.post(f"{BASE}/hosts", json={"kind": "Host", "metadata": {"name": "n"}},
                          headers=h)
    rs = await asyncio.gather(*(api.client.patch(f"{BASE}/hosts/n", headers=h, json={
        "metadata": {"annotations": {f"k{i}": str(i)}}}) for i in range(30)))
    assert {r.status_code for r in rs} == {200}
    ann = (await api.client.get(f"{BASE}/hosts/n", headers=h)).json()["metadata"]["annotations"]
    assert len(ann) == 30


async def test_tenant_isolation(api) -> None:
    a, b = await api.project("a"), await api.project("b")
    ha = {"X-Auth-Token": await api.token(a)}
    hb = {"X-Auth-Token": await api.token(b)}
    await api.client.post(f"{BASE}/namespaces/{b}/configmaps", json=cm("secret"), headers=hb)
    r = await api.client.get(f"{BASE}/namespaces/{b}/configmaps/secret", headers=ha)
    assert r.status_code == 404
    r = await api.client.get(f"{BASE}/namespaces/{b}/configmaps", headers=ha)
    assert r.status_code == 404
    r = await api.client.delete(f"{BASE}/namespaces/{b}/configmaps/secret", headers=ha)
    assert r.status_code == 404
    r = await api.client.get(f"{BASE}/configmaps", headers=ha)  # all namespaces: only own
    assert r.json()["items"] == []
    assert (await api.client.get(f"{BASE}/hosts", headers=ha)).status_code == 403
    assert (await api.client.get(f"{BASE}/users", headers=ha)).status_code == 403
    reader = {"X-Auth-Token": await api.token(a, "reader")}
    r = await api.client.post(f"{BASE}/namespaces/{a}/configmaps", json=cm("r"), headers=reader)
    assert r.status_code == 403
    assert (await api.client.get(f"{BASE}/namespaces/{a}/configmaps", headers=reader)
            ).status_code == 200


async def test_pagination_and_selectors(api) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    for i in range(7):
        await api.client.post(url, json=cm(f"c{i}", labels={"tier": "web" if i % 2 else "db"}),
                              headers=h)
    names, cont = [], None
    while True:
        params = {"limit": "3", **({"continue": cont} if cont else {})}
        body = (await api.client.get(url, params=params, headers=h)).json()
        names += [i["metadata"]["name"] for i in body["items"]]
        cont = body["metadata"].get("continue")
        if not cont:
            break
    assert names == [f"c{i}" for i in range(7)]
    r = await api.client.get(url, params={"labelSelector": "tier=web"}, headers=h)
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["c1", "c3", "c5"]
    r = await api.client.get(url, params={"labelSelector": "tier in (db)"}, headers=h)
    assert len(r.json()["items"]) == 4


async def watch_lines(client: httpx.AsyncClient, url: str, params: dict, headers: dict,
                      n: int) -> list[dict]:
    """The first n events (the ASGI test transport buffers, so the watch is time-bounded)."""
    out: list[dict] = []
    params = {**params, "timeoutSeconds": "1"}
    async with client.stream("GET", url, params=params, headers=headers) as r:
        async for line in r.aiter_lines():
            if line.strip():
                out.append(json.loads(line))
            if len(out) >= n:
                break
    return out


async def test_watch_resume_and_gone(api) -> None:
    p = await api.project("a")
    h = {"X-Auth-Token": await api.token(p)}
    url = f"{BASE}/namespaces/{p}/configmaps"
    first = (await api.client.post(url, json=cm("w0"), headers=h)).json()
    rv = first["metadata"]["resourceVersion"]
    for i in range(1, 4):
        await api.client.post(url, json=cm(f"w{i}"), headers=h)
    await api.client.delete(f"{url}/w1", headers=h)
    evs = await watch_lines(api.client, url, {"watch": "1", "resourceVersion": rv}, h, 4)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [
        ("ADDED", "w1"), ("ADDED", "w2"), ("ADDED", "w3"), ("DELETED", "w1")]
    revs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
    assert revs == sorted(revs)
    # resume from the middle: exactly the rest
    evs2 = await watch_lines(api.client, url, {"watch": "1", "resourceVersion": str(revs[1])},
                             h, 2)
    assert [e["object"]["metadata"]["name"] for e in evs2] == ["w3", "w1"]
    # no resourceVersion: the current state as ADDED first
    evs3 = await watch_lines(api.client, url, {"watch": "1"}, h, 3)
    assert {e["object"]["metadata"]["name"] for e in evs3} == {"w0", "w2", "w3"}
    # compact history, then an old revision is 410 Gone: the client re-lists
    backend = api.rt.objects.backend
    backend.min_history_revisions, backend.min_history_seconds = 1, 0
    await backend.compact()
    evs4 = await watch_lines(api.client, url, {"watch": "1", "resourceVersion": rv}, h, 1)
    assert evs4[0]["type"] == "ERROR" and evs4[0]["object"]["code"] == 410
    listed = (await api.client.get(url, headers=h)).json()
    new_rv = listed["metadata"]["resourceVersion"]
    await api.client.post(url, json=cm("w9"), headers=h)
    evs5 = await watch_lines(api.client, url, {"watch": "1", "resourceVersion": new_rv}, h, 1)
    assert evs5[0]["object"]["metadata"]["name"] == "w9"


def test_merge_patch_rfc7386() -> None:
    assert native.merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}}
    assert native.merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
    assert native.merge_patch({"a": 1}, "x") == "x"
