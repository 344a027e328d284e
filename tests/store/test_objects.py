"""ObjectStore semantics after the Kubernetes API machinery, on every backend."""

from __future__ import annotations

import asyncio
import copy
import re
from contextlib import aclosing
from typing import Any

import pytest

from kumo import store
from kumo.store.objects import encode_continue

from .conftest import take

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def obj(name: str, ns: str = "p", kind: str = "Thing", labels: dict[str, str] | None = None,
        spec: dict[str, Any] | None = None, **md: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": ns, "labels": labels or {}, **md},
            "spec": spec if spec is not None else {}}


def rv(o: dict[str, Any]) -> int:
    return int(o["metadata"]["resourceVersion"])


def names(items: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in items]


# ---- create / get -----------------------------------------------------------------------
async def test_create_stamps_system_metadata(objects: store.ObjectStore) -> None:
    given = obj("a", spec={"x": 1}, resourceVersion="999", generation=7,
                deletionTimestamp="2020-01-01T00:00:00.000000Z")
    before = copy.deepcopy(given)
    a = await objects.create(given)
    md = a["metadata"]
    assert given == before  # the caller's dict is not touched
    assert re.fullmatch(r"[0-9a-f-]{36}", md["uid"]) and ISO.match(md["creationTimestamp"])
    assert md["generation"] == 1 and "deletionTimestamp" not in md
    assert rv(a) == await objects.revision() and md["resourceVersion"] == str(rv(a))
    assert await objects.get("Thing", "p", "a") == a
    cluster = await objects.create({"kind": "Thing", "metadata": {"name": "c"}})
    assert cluster["metadata"]["namespace"] == ""
    assert (await objects.get("Thing", "", "c"))["metadata"]["uid"] != md["uid"]


async def test_create_duplicate_and_invalid(objects: store.ObjectStore) -> None:
    a = await objects.create(obj("a"))
    with pytest.raises(store.AlreadyExists):
        await objects.create(obj("a", spec={"other": True}))
    assert await objects.get("Thing", "p", "a") == a
    for bad in ({"kind": "Thing", "metadata": {}}, {"metadata": {"name": "x"}},
                {"kind": "Thing", "metadata": {"name": 2**70}},
                {"kind": "Thing", "metadata": {"name": "x", "namespace": ["p"]}}):
        with pytest.raises(store.Invalid):
            await asyncio.wait_for(objects.create(bad), 5)
    assert names((await objects.list("Thing")).items) == ["a"]
    await asyncio.wait_for(objects.create(obj("still-writable")), 5)


async def test_get_missing(objects: store.ObjectStore) -> None:
    with pytest.raises(store.NotFound):
        await objects.get("Thing", "p", "nope")
    assert await objects.try_get("Thing", "p", "nope") is None


# ---- update -----------------------------------------------------------------------------
async def test_update_needs_the_current_resource_version(objects: store.ObjectStore) -> None:
    a = await objects.create(obj("a", spec={"x": 1}))
    b = await objects.update({**a, "spec": {"x": 2}})
    assert rv(b) > rv(a)
    with pytest.raises(store.Conflict):
        await objects.update({**a, "spec": {"x": 3}})
    assert await objects.get("Thing", "p", "a") == b  # never a silent overwrite
    with pytest.raises(store.Conflict):
        await objects.update({**b, "spec": {"x": 4}}, expected_rv=rv(a))
    no_rv = copy.deepcopy(b)
    del no_rv["metadata"]["resourceVersion"]
    with pytest.raises(store.Invalid):
        await objects.update(no_rv)
    with pytest.raises(store.NotFound):
        await objects.update({**obj("ghost"), "metadata": {"name": "ghost", "resourceVersion": "1"}})
    assert await objects.get("Thing", "p", "a") == b


async def test_generation_bumps_only_on_spec_change(objects: store.ObjectStore) -> None:
    a = await objects.create(obj("a", spec={"x": 1}))
    labelled = await objects.update({**a, "metadata": {**a["metadata"], "labels": {"l": "v"}}})
    with_status = await objects.update({**labelled, "status": {"phase": "Ready"}})
    assert with_status["metadata"]["generation"] == 1
    respec = await objects.update({**with_status, "spec": {"x": 2}})
    assert respec["metadata"]["generation"] == 2
    same = await objects.update({**respec, "spec": {"x": 2},
                                 "metadata": {**respec["metadata"], "generation": 40}})
    assert same["metadata"]["generation"] == 2


async def test_update_keeps_uid_creation_time_and_deletion_state(
        objects: store.ObjectStore) -> None:
    a = await objects.create(obj("a"))
    forged = copy.deepcopy(a)
    forged["metadata"].update(uid="forged", creationTimestamp="1999-01-01T00:00:00.000000Z",
                              deletionTimestamp="1999-01-01T00:00:00.000000Z")
    b = await objects.update(forged)
    assert b["metadata"]["uid"] == a["metadata"]["uid"]
    assert b["metadata"]["creationTimestamp"] == a["metadata"]["creationTimestamp"]
    assert "deletionTimestamp" not in b["metadata"]  # only delete sets it
    assert await objects.get("Thing", "p", "a") == b


# ---- delete and finalizers --------------------------------------------------------------
async def test_delete_with_expected_resource_version(objects: store.ObjectStore) -> None:
    a = await objects.create(obj("a"))
    b = await objects.update({**a, "spec": {"y": 1}})
    with pytest.raises(store.Conflict):
        await objects.delete("Thing", "p", "a", expected_rv=rv(a))
    assert await objects.get("Thing", "p", "a") == b
    gone = await objects.delete("Thing", "p", "a", expected_rv=rv(b))
    assert gone["spec"] == {"y": 1}
    assert await objects.try_get("Thing", "p", "a") is None
    with pytest.raises(store.NotFound):
        await objects.delete("Thing", "p", "a")


async def test_finalizers_hold_deletion_until_the_last_is_removed(
        objects: store.ObjectStore) -> None:
    start = await objects.revision()
    f = await objects.create(obj("f", finalizers=["a.io/x", "b.io/y"]))
    marked = await objects.delete("Thing", "p", "f")
    stamp = marked["metadata"]["deletionTimestamp"]
    assert ISO.match(stamp) and rv(marked) > rv(f)
    assert await objects.get("Thing", "p", "f") == marked
    assert await objects.delete("Thing", "p", "f") == marked  # again: no change
    one_left = copy.deepcopy(marked)
    one_left["metadata"]["finalizers"] = ["b.io/y"]
    del one_left["metadata"]["deletionTimestamp"]  # a client dropping it cannot undelete
    kept = await objects.update(one_left)
    assert kept["metadata"]["deletionTimestamp"] == stamp
    assert kept["metadata"]["uid"] == f["metadata"]["uid"]
    last = copy.deepcopy(kept)
    last["metadata"]["finalizers"] = []
    await objects.update(last)
    assert await objects.try_get("Thing", "p", "f") is None
    async with aclosing(objects.watch("Thing", "p", start)) as stream:
        evs = await take(stream, await objects.revision())
    assert [e.type for e in evs] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]


async def test_delete_with_finalizers_and_stale_rv_conflicts(objects: store.ObjectStore) -> None:
    f = await objects.create(obj("f", finalizers=["x"]))
    g = await objects.update({**f, "spec": {"v": 1}})
    with pytest.raises(store.Conflict):
        await objects.delete("Thing", "p", "f", expected_rv=rv(f))
    assert "deletionTimestamp" not in (await objects.get("Thing", "p", "f"))["metadata"]
    assert (await objects.delete("Thing", "p", "f", expected_rv=rv(g)))["metadata"][
        "deletionTimestamp"]


async def test_unconditional_delete_wins_over_concurrent_updates(
        objects: store.ObjectStore) -> None:
    a = await objects.create(obj("a", spec={"n": 0}))

    async def bump(i: int) -> None:
        cur = await objects.try_get("Thing", "p", "a")
        if cur is not None:
            await objects.update({**cur, "spec": {"n": i}})

    results = await asyncio.gather(objects.delete("Thing", "p", "a"),
                                   *(bump(i) for i in range(10)), return_exceptions=True)
    assert not isinstance(results[0], BaseException)
    assert all(r is None or isinstance(r, store.Conflict | store.NotFound) for r in results[1:])
    assert await objects.try_get("Thing", "p", "a") is None
    assert a["metadata"]["uid"]


# ---- list: namespaces, selectors, pagination --------------------------------------------
async def fill(objects: store.ObjectStore, n: int = 12) -> None:
    for i in range(n):
        labels = {"tier": "web" if i % 2 else "db", "n": str(i)}
        if i % 4 == 0:
            labels["canary"] = "yes"
        await objects.create(obj(f"o{i:02d}", ns="p" if i % 3 else "q", labels=labels))
    await objects.create(obj("other-kind", kind="Other", labels={"tier": "web"}))


@pytest.mark.parametrize("selector,want", [
    (None, range(12)),
    ("tier=web", range(1, 12, 2)),
    ("tier==db", range(0, 12, 2)),
    ("tier!=web", range(0, 12, 2)),
    ("canary", [0, 4, 8]),
    ("!canary", [i for i in range(12) if i % 4]),
    ("n in (1, 2,3)", [1, 2, 3]),
    ("n notin (1,2,3)", [0, *range(4, 12)]),
    ("tier=web,n notin (1,3),!canary", [5, 7, 9, 11]),
    ("canary!=yes", [i for i in range(12) if i % 4]),
    ("missing in (x)", []),
])
async def test_list_label_selectors(objects: store.ObjectStore, selector: str | None,
                                    want: Any) -> None:
    await fill(objects)
    got = await objects.list("Thing", label_selector=selector)
    assert names(got.items) == [f"o{i:02d}" for i in sorted(want, key=lambda i: (
        "p" if i % 3 else "q", i))]


async def test_list_namespace_and_revision(objects: store.ObjectStore) -> None:
    await fill(objects)
    listed = await objects.list("Thing", "q")
    assert names(listed.items) == ["o00", "o03", "o06", "o09"]
    assert listed.resource_version == await objects.revision()
    assert listed.continue_token is None
    assert all(rv(o) <= listed.resource_version for o in listed.items)
    with pytest.raises(store.Invalid):
        await objects.list("Thing", label_selector="tier in ()")


@pytest.mark.parametrize("limit", [1, 2, 5, 6, 12, 50])
@pytest.mark.parametrize("selector", [None, "tier=web", "canary", "n in (0,11)"])
async def test_pagination_covers_every_item_once(objects: store.ObjectStore, limit: int,
                                                  selector: str | None) -> None:
    await fill(objects)
    want = names((await objects.list("Thing", label_selector=selector)).items)
    seen: list[str] = []
    token = None
    for _ in range(30):
        page = await objects.list("Thing", label_selector=selector, limit=limit,
                                  continue_token=token)
        assert len(page.items) <= limit
        if page.continue_token:
            assert len(page.items) == limit
        seen += names(page.items)
        token = page.continue_token
        if token is None:
            break
    assert seen == want


async def test_pagination_under_concurrent_writes(objects: store.ObjectStore) -> None:
    await fill(objects)
    first = await objects.list("Thing", limit=4)
    assert names(first.items) == ["o01", "o02", "o04", "o05"]
    await objects.delete("Thing", "p", "o01")  # already returned
    await objects.create(obj("a-before-cursor", ns="p"))  # sorts before the cursor
    await objects.create(obj("zz-after-cursor", ns="q"))
    rest: list[str] = []
    token = first.continue_token
    while token:
        page = await objects.list("Thing", limit=4, continue_token=token)
        rest += names(page.items)
        token = page.continue_token
    seen = names(first.items) + rest
    assert len(seen) == len(set(seen))
    assert {f"o{i:02d}" for i in range(12)} | {"zz-after-cursor"} == set(seen)


async def test_invalid_continue_token(objects: store.ObjectStore) -> None:
    with pytest.raises(store.Invalid):
        await objects.list("Thing", limit=2, continue_token="%%%not-base64")
    await fill(objects, 3)
    resumed = await objects.list("Thing", limit=10, continue_token=encode_continue("p", "o01"))
    assert names(resumed.items) == ["o02", "o00"]


# ---- watch through the object layer -----------------------------------------------------
async def test_watch_events_carry_objects_and_resource_versions(
        objects: store.ObjectStore) -> None:
    start = await objects.revision()
    a = await objects.create(obj("a", spec={"v": 1}))
    b = await objects.update({**a, "spec": {"v": 2}})
    await objects.create(obj("elsewhere", ns="q"))
    gone = await objects.delete("Thing", "p", "a")
    async with aclosing(objects.watch("Thing", "p", start)) as stream:
        evs = await take(stream, rv(gone))
    assert [(e.type, e.object) for e in evs] == [("ADDED", a), ("MODIFIED", b), ("DELETED", gone)]
    assert [e.revision for e in evs] == [rv(a), rv(b), rv(gone)]
