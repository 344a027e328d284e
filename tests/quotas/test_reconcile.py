"""Drift repair: usage recomputed from the objects that exist.

A crash between a claim and its create leaves a claim without an object; a path
that deletes without releasing (the garbage collector, an admin's native delete)
leaves one too; a crash between a claim record and the counter leaves the counter
off. ``reconcile`` (run at start and every minute by the server's background task)
repairs all of them, but keeps young claims (their create may still be in flight)
and lowers a counter only by an excess seen on two passes in a row.
"""

from __future__ import annotations

import time

from kumo.core import quotas
from kumo.core.errors import QuotaExceeded
from kumo.model import compute as cm
from kumo.model import network as nm

from .conftest import Cloud


async def _networks(cloud: Cloud, n: int) -> tuple[str, list[str]]:
    alice = await cloud.tenant("alpha")
    ids = []
    for i in range(n):
        net = await cloud.net_ok("POST", "/v2.0/networks", alice, 201,
                                 json={"network": {"name": f"n{i}"}})
        ids.append(net["network"]["id"])
    return alice.project_id, ids


async def test_a_claim_left_by_a_crash_is_kept_while_young_then_dropped(cloud: Cloud) -> None:
    pid, _ = await _networks(cloud, 2)
    await quotas.claim(cloud.objects, pid, quotas.NETWORK, {"crashed": {"network": 1}})
    assert (await quotas.usage(cloud.objects, pid, quotas.NETWORK))["network"] == 3
    assert (await quotas.reconcile(cloud.objects, pid, quotas.NETWORK))["network"] == 3
    assert (await quotas.reconcile(cloud.objects, pid, quotas.NETWORK, grace=0))["network"] == 2
    assert await cloud.objects.try_get(cm.QUOTA_CLAIM, pid, "network.crashed") is None


async def test_an_object_deleted_without_release_is_dropped(cloud: Cloud) -> None:
    pid, ids = await _networks(cloud, 3)
    await cloud.objects.delete(nm.NETWORK, pid, ids[0])  # as the gc would: no release
    assert (await quotas.usage(cloud.objects, pid, quotas.NETWORK))["network"] == 3
    record = await cloud.objects.get(cm.QUOTA_CLAIM, pid, f"network.{ids[0]}")
    record["spec"]["at"] = time.time() - 2 * quotas.GRACE  # an old claim
    await cloud.objects.update(record)
    assert await quotas.reconcile_all(cloud.objects) >= 1
    assert (await quotas.usage(cloud.objects, pid, quotas.NETWORK))["network"] == 2


async def test_lost_claims_are_rebuilt_and_enforced_again(cloud: Cloud) -> None:
    pid, ids = await _networks(cloud, 3)
    await cloud.objects.delete(cm.QUOTA_USAGE, pid, quotas.NETWORK)
    for n in ids:
        await cloud.objects.delete(cm.QUOTA_CLAIM, pid, f"network.{n}")
    assert await quotas.usage(cloud.objects, pid, quotas.NETWORK) == {}
    await quotas.reconcile_all(cloud.objects)
    used = await quotas.usage(cloud.objects, pid, quotas.NETWORK)
    assert used["network"] == 3 and not used.get("security_group")  # none was made
    try:
        await quotas.claim(cloud.objects, pid, quotas.NETWORK, {"x": {"network": 1}},
                           {"network": 3})
    except QuotaExceeded as exc:
        assert exc.resource == "network"
    else:
        raise AssertionError("a rebuilt usage must be enforced")


async def test_a_counter_too_high_is_lowered_only_on_the_second_pass(cloud: Cloud) -> None:
    pid, _ = await _networks(cloud, 2)
    usage = await cloud.objects.get(cm.QUOTA_USAGE, pid, quotas.NETWORK)
    usage["spec"]["used"]["network"] = 5  # a crash after the counter, before the record
    await cloud.objects.update(usage)
    assert (await quotas.reconcile(cloud.objects, pid, quotas.NETWORK))["network"] == 5
    assert (await quotas.reconcile(cloud.objects, pid, quotas.NETWORK))["network"] == 2
    usage = await cloud.objects.get(cm.QUOTA_USAGE, pid, quotas.NETWORK)
    usage["spec"]["used"]["network"] = 0  # too low: raised at once
    await cloud.objects.update(usage)
    assert (await quotas.reconcile(cloud.objects, pid, quotas.NETWORK))["network"] == 2


async def test_a_claim_that_no_longer_matches_its_object_is_redone(cloud: Cloud) -> None:
    pid, ids = await _networks(cloud, 2)
    record = await cloud.objects.get(cm.QUOTA_CLAIM, pid, f"network.{ids[0]}")
    record["spec"]["d"] = {"network": 3}
    await cloud.objects.update(record)
    assert (await quotas.reconcile(cloud.objects, pid, quotas.NETWORK))["network"] == 2
    record = await cloud.objects.get(cm.QUOTA_CLAIM, pid, f"network.{ids[0]}")
    assert record["spec"]["d"] == {"network": 1}


async def test_release_is_idempotent_and_claims_are_not_counted_twice(cloud: Cloud) -> None:
    pid, ids = await _networks(cloud, 1)
    await quotas.claim(cloud.objects, pid, quotas.NETWORK, {ids[0]: {"network": 1}},
                       {"network": 1})  # already held: no new use, so within the limit
    assert (await quotas.usage(cloud.objects, pid, quotas.NETWORK))["network"] == 1
    for _ in range(2):
        await quotas.release(cloud.objects, pid, quotas.NETWORK, [ids[0]])
    assert (await quotas.usage(cloud.objects, pid, quotas.NETWORK)).get("network", 0) == 0


async def test_a_failed_create_releases_its_claim(cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    r = await cloud.net("POST", "/v2.0/subnets", alice, json={"subnet": {
        "network_id": "missing", "cidr": "10.0.0.0/24", "ip_version": 4}})
    assert r.status_code == 404
    net = (await cloud.net_ok("POST", "/v2.0/networks", alice, 201,
                              json={"network": {"name": "n"}}))["network"]
    await cloud.net_ok("POST", "/v2.0/subnets", alice, 201, json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4}})
    r = await cloud.net("POST", "/v2.0/ports", alice, json={"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.1"}]}})  # the gateway
    assert r.status_code >= 400
    used = await quotas.usage(cloud.objects, alice.project_id, quotas.NETWORK)
    assert used.get("port", 0) == len((await cloud.objects.list(nm.PORT,
                                                                alice.project_id)).items)


async def test_keypairs_written_without_a_claim_are_counted_per_user(cloud: Cloud) -> None:
    """Keypairs from before counted claims (or a native write) are claimed on the user's
    counter by the reconcile pass; a deleted one's claim is dropped."""
    alice = await cloud.tenant("alpha")
    for i in range(3):
        await cloud.objects.create({
            "apiVersion": "kumo.io/v1", "kind": cm.KEYPAIR,
            "metadata": {"name": f"{alice.user_id}.k{i}", "labels": {"user": alice.user_id}},
            "spec": {"name": f"k{i}", "userId": alice.user_id, "publicKey": "x",
                     "fingerprint": "f", "type": "ssh"}})
    assert await quotas.usage(cloud.objects, alice.user_id, quotas.KEYPAIRS) == {}
    await quotas.reconcile_all(cloud.objects, grace=0)
    assert await quotas.usage(cloud.objects, alice.user_id, quotas.KEYPAIRS) == {"key_pairs": 3}
    await cloud.objects.delete(cm.KEYPAIR, "", f"{alice.user_id}.k0")
    await quotas.reconcile_all(cloud.objects, grace=0)
    await quotas.reconcile_all(cloud.objects, grace=0)
    assert await quotas.usage(cloud.objects, alice.user_id, quotas.KEYPAIRS) == {"key_pairs": 2}
