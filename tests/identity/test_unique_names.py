"""Keystone names are unique by a store-level claim: racing creates, stale claims, renames."""

from __future__ import annotations

import asyncio
import time

import pytest

from kumo.core import errors, names
from kumo.model import identity as m
from kumo.model.names import NAME_CLAIM

from .conftest import Keystone

CLIENTS = 20


async def _race(ks: Keystone, path: str, key: str, body: dict) -> list:
    async def one() -> object:
        return await ks.client.post(path, json={key: body}, headers=ks.headers)

    return await asyncio.gather(*(one() for _ in range(CLIENTS)))


async def _named(ks: Keystone, kind: str, name: str) -> list[dict]:
    return [o for o in (await ks.rt.objects.list(kind, "")).items if o["spec"]["name"] == name]


@pytest.mark.parametrize(("path", "key", "kind", "what"), [
    ("/v3/users", "user", m.USER, "user"),
    ("/v3/projects", "project", m.PROJECT, "project"),
    ("/v3/groups", "group", m.GROUP, "group"),
])
async def test_twenty_concurrent_creates_of_one_name_one_wins(
        keystone: Keystone, path: str, key: str, kind: str, what: str) -> None:
    responses = await _race(keystone, path, key, {"name": "Racer", "domain_id": "default"})
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (CLIENTS - 1), codes
    for r in responses:
        if r.status_code == 409:
            assert r.json() == {"error": {
                "code": 409, "title": "Conflict",
                "message": f"Conflict occurred attempting to store {what} - Duplicate entry "
                           "found with name Racer."}}
    stored = await _named(keystone, kind, "Racer")
    assert len(stored) == 1
    winner = next(r for r in responses if r.status_code == 201).json()[key]
    assert stored[0]["metadata"]["name"] == winner["id"]


async def test_concurrent_domains_and_roles_are_globally_unique(keystone: Keystone) -> None:
    for path, key, kind in (("/v3/domains", "domain", m.DOMAIN), ("/v3/roles", "role", m.ROLE)):
        responses = await _race(keystone, path, key, {"name": "global-one"})
        assert sorted(r.status_code for r in responses) == [201] + [409] * (CLIENTS - 1)
        assert len(await _named(keystone, kind, "global-one")) == 1


async def test_same_name_in_two_domains_is_allowed(keystone: Keystone) -> None:
    r = await keystone.client.post("/v3/domains", json={"domain": {"name": "other"}},
                                   headers=keystone.headers)
    other = r.json()["domain"]["id"]
    for did in ("default", other):
        r = await keystone.client.post("/v3/users", json={"user": {
            "name": "twin", "domain_id": did}}, headers=keystone.headers)
        assert r.status_code == 201, r.text


async def test_core_claim_race_without_the_lookup(keystone: Keystone) -> None:
    """The claim alone decides: create_unique racing itself, no lookup in front."""
    objects = keystone.rt.objects

    async def one(i: int) -> str:
        obj = m.obj(m.USER, f"u{i:02d}", {"name": "bare", "domainId": "default"})
        try:
            await names.create_unique(objects, obj, "default")
        except errors.AlreadyExists:
            return "lost"
        return "won"

    results = await asyncio.gather(*(one(i) for i in range(CLIENTS)))
    assert results.count("won") == 1
    assert len(await _named(keystone, m.USER, "bare")) == 1


async def _stale_claim(ks: Keystone, name: str, owner: str, age: float) -> None:
    await ks.rt.objects.create({
        "apiVersion": "kumo.io/v1", "kind": NAME_CLAIM,
        "metadata": {"name": names.claim_name(m.USER, "default", name), "namespace": ""},
        "spec": {"kind": m.USER, "scope": "default", "name": name, "owner": owner,
                 "claimedAt": time.time() - age}})


async def test_stale_claim_of_a_crashed_create_is_taken_over(keystone: Keystone) -> None:
    # a create that claimed "ghost" and crashed before storing its user
    await _stale_claim(keystone, "ghost", "never-stored", names.GRACE_SECONDS + 1)
    r = await keystone.client.post("/v3/users", json={"user": {"name": "ghost"}},
                                   headers=keystone.headers)
    assert r.status_code == 201, r.text
    claim = await keystone.rt.objects.get(
        NAME_CLAIM, "", names.claim_name(m.USER, "default", "ghost"))
    assert claim["spec"]["owner"] == r.json()["user"]["id"]


async def test_fresh_claim_of_a_create_in_flight_is_respected(keystone: Keystone) -> None:
    await _stale_claim(keystone, "inflight", "being-stored", 0)
    r = await keystone.client.post("/v3/users", json={"user": {"name": "inflight"}},
                                   headers=keystone.headers)
    assert r.status_code == 409


async def test_delete_and_rename_free_the_name(keystone: Keystone) -> None:
    c, h = keystone.client, keystone.headers
    first = (await c.post("/v3/users", json={"user": {"name": "alpha"}}, headers=h)).json()
    r = await c.patch(f"/v3/users/{first['user']['id']}", json={"user": {"name": "beta"}},
                      headers=h)
    assert r.status_code == 200, r.text
    assert (await c.post("/v3/users", json={"user": {"name": "beta"}}, headers=h)
            ).status_code == 409
    second = await c.post("/v3/users", json={"user": {"name": "alpha"}}, headers=h)
    assert second.status_code == 201, second.text
    assert (await c.delete(f"/v3/users/{second.json()['user']['id']}", headers=h)
            ).status_code == 204
    assert await keystone.rt.objects.try_get(
        NAME_CLAIM, "", names.claim_name(m.USER, "default", "alpha")) is None
    assert (await c.post("/v3/users", json={"user": {"name": "alpha"}}, headers=h)
            ).status_code == 201
