"""Twenty concurrent clients against each quota: exactly the limit succeeds.

Before counted claims every create listed the project's objects, compared, then
wrote: twenty racing port creates against a quota of 5 all succeeded. Now each
create claims its share of the project's QuotaUsage with one CAS first.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from kumo.core import quotas
from kumo.model import compute as cm
from kumo.model import network as nm

from .conftest import Cloud, Tenant

CLIENTS = 20


async def _race(calls: list[Any]) -> list[httpx.Response]:
    return list(await asyncio.gather(*calls))


async def _neutron_quota(cloud: Cloud, pid: str, **values: int) -> None:
    admin = await cloud.admin()
    await cloud.net_ok("PUT", f"/v2.0/quotas/{pid}", admin, json={"quota": values})


async def _nova_quota(cloud: Cloud, pid: str, **values: int) -> None:
    admin = await cloud.admin()
    await cloud.ok("PUT", f"/v2.1/os-quota-sets/{pid}", admin, json={"quota_set": values})


def _outcomes(rs: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in rs)


async def _assert_neutron_race(rs: list[httpx.Response], quota: int) -> None:
    assert _outcomes(rs) == {201: quota, 409: CLIENTS - quota}, [r.text for r in rs]
    for r in rs:
        if r.status_code == 409:
            assert r.json()["NeutronError"]["type"] == "OverQuota", r.text


async def _usage_matches(cloud: Cloud, pid: str, service: str) -> dict[str, int]:
    used = await quotas.usage(cloud.objects, pid, service)
    found = (await quotas.actual(cloud.objects, service, pid)).get(pid, {})
    counted: dict[str, int] = {}
    for d in found.values():
        for k, n in d.items():
            counted[k] = counted.get(k, 0) + n
    assert {k: v for k, v in used.items() if v} == {k: v for k, v in counted.items() if v}
    return used


async def test_twenty_network_creates_against_five(cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    await _neutron_quota(cloud, alice.project_id, network=5)
    rs = await _race([cloud.net("POST", "/v2.0/networks", alice,
                                json={"network": {"name": f"n{i}"}}) for i in range(CLIENTS)])
    await _assert_neutron_race(rs, 5)
    assert len((await cloud.objects.list(nm.NETWORK, alice.project_id)).items) == 5
    assert (await _usage_matches(cloud, alice.project_id, quotas.NETWORK))["network"] == 5


async def _network_with_subnet(cloud: Cloud, who: Tenant) -> str:
    net = (await cloud.net_ok("POST", "/v2.0/networks", who, 201,
                              json={"network": {"name": "n"}}))["network"]
    await cloud.net_ok("POST", "/v2.0/subnets", who, 201, json={"subnet": {
        "network_id": net["id"], "cidr": "10.20.0.0/24", "ip_version": 4}})
    return net["id"]


async def test_twenty_port_creates_against_five_then_deletes_free_quota(cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    net_id = await _network_with_subnet(cloud, alice)
    await _neutron_quota(cloud, alice.project_id, port=5)
    rs = await _race([cloud.net("POST", "/v2.0/ports", alice,
                                json={"port": {"network_id": net_id}}) for _ in range(CLIENTS)])
    await _assert_neutron_race(rs, 5)
    ports = (await cloud.objects.list(nm.PORT, alice.project_id)).items
    assert len(ports) == 5
    assert (await _usage_matches(cloud, alice.project_id, quotas.NETWORK))["port"] == 5
    for p in ports[:2]:
        await cloud.net_ok("DELETE", f"/v2.0/ports/{p['metadata']['name']}", alice, 204)
    assert (await quotas.usage(cloud.objects, alice.project_id, quotas.NETWORK))["port"] == 3
    rs = await _race([cloud.net("POST", "/v2.0/ports", alice,
                                json={"port": {"network_id": net_id}}) for _ in range(CLIENTS)])
    await _assert_neutron_race(rs, 2)
    assert (await _usage_matches(cloud, alice.project_id, quotas.NETWORK))["port"] == 5


async def test_twenty_security_group_creates(cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    await cloud.net_ok("GET", "/v2.0/security-groups", alice)  # the default group exists
    await _neutron_quota(cloud, alice.project_id, security_group=5)
    rs = await _race([cloud.net("POST", "/v2.0/security-groups", alice,
                                json={"security_group": {"name": f"g{i}"}})
                      for i in range(CLIENTS)])
    await _assert_neutron_race(rs, 4)  # the default group counts, as in Neutron
    assert len((await cloud.objects.list(nm.SECURITY_GROUP, alice.project_id)).items) == 5
    assert (await _usage_matches(cloud, alice.project_id,
                                 quotas.NETWORK))["security_group"] == 5


async def test_twenty_security_group_rule_creates(cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    groups = (await cloud.net_ok("GET", "/v2.0/security-groups", alice))["security_groups"]
    gid = groups[0]["id"]
    await _neutron_quota(cloud, alice.project_id, security_group_rule=10)  # 4 are default
    rs = await _race([cloud.net("POST", "/v2.0/security-group-rules", alice, json={
        "security_group_rule": {"security_group_id": gid, "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 1000 + i,
                                "port_range_max": 1000 + i}}) for i in range(CLIENTS)])
    await _assert_neutron_race(rs, 6)
    rules = (await cloud.objects.list(nm.SECURITY_GROUP_RULE, alice.project_id)).items
    assert len(rules) == 10
    used = await _usage_matches(cloud, alice.project_id, quotas.NETWORK)
    assert used["security_group_rule"] == 10


async def _boot_race(cloud: Cloud, who: Tenant, flavor: str) -> list[httpx.Response]:
    image = await cloud.image_id()
    return await _race([cloud.call("POST", "/v2.1/servers", who, json={"server": {
        "name": f"vm{i}", "imageRef": image, "flavorRef": flavor, "networks": "none"}})
        for i in range(CLIENTS)])


def _assert_nova_race(rs: list[httpx.Response], quota: int, what: str) -> None:
    assert _outcomes(rs) == {202: quota, 403: CLIENTS - quota}, [r.text for r in rs]
    for r in rs:
        if r.status_code == 403:
            assert r.json()["forbidden"]["message"].startswith(f"Quota exceeded for {what}")


async def test_twenty_server_creates_against_five_instances(cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    await _nova_quota(cloud, alice.project_id, instances=5)
    _assert_nova_race(await _boot_race(cloud, alice, "42"), 5, "instances")
    assert len((await cloud.objects.list(cm.SERVER, alice.project_id)).items) == 5
    used = await _usage_matches(cloud, alice.project_id, quotas.COMPUTE)
    assert (used["instances"], used["cores"], used["ram"]) == (5, 5, 5 * 128)
    detail = await cloud.ok("GET", f"/v2.1/os-quota-sets/{alice.project_id}/detail", alice)
    assert detail["quota_set"]["instances"]["in_use"] == 5


async def test_twenty_server_creates_against_six_cores(cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    await _nova_quota(cloud, alice.project_id, cores=6)
    _assert_nova_race(await _boot_race(cloud, alice, "3"), 3, "cores")  # 2 vcpus each
    servers = (await cloud.objects.list(cm.SERVER, alice.project_id)).items
    assert len(servers) == 3
    assert (await _usage_matches(cloud, alice.project_id, quotas.COMPUTE))["cores"] == 6
    sid = servers[0]["metadata"]["name"]
    await cloud.ok("DELETE", f"/v2.1/servers/{sid}", alice, 204)
    used = await _usage_matches(cloud, alice.project_id, quotas.COMPUTE)
    assert (used["instances"], used["cores"]) == (2, 4)


async def test_twenty_server_group_creates(cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    await _nova_quota(cloud, alice.project_id, server_groups=3)
    rs = await _race([cloud.call("POST", "/v2.1/os-server-groups", alice, json={
        "server_group": {"name": f"g{i}", "policy": "affinity"}}) for i in range(CLIENTS)])
    assert _outcomes(rs) == {200: 3, 403: CLIENTS - 3}, [r.text for r in rs]
    assert len((await cloud.objects.list(cm.SERVER_GROUP, alice.project_id)).items) == 3


def _public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


async def test_twenty_keypair_creates_against_five_then_deletes_free_quota(
        cloud: Cloud) -> None:
    alice = await cloud.tenant("alpha")
    await _nova_quota(cloud, alice.project_id, key_pairs=5)
    rs = await _race([cloud.call("POST", "/v2.1/os-keypairs", alice, json={
        "keypair": {"name": f"k{i}", "public_key": _public_key()}}) for i in range(CLIENTS)])
    assert _outcomes(rs) == {201: 5, 403: CLIENTS - 5}, [r.text for r in rs]
    for r in rs:
        if r.status_code == 403:
            assert r.json()["forbidden"]["message"] == "Maximum number of key pairs exceeded"
    assert len((await cloud.objects.list(cm.KEYPAIR, None)).items) == 5
    used = await _usage_matches(cloud, alice.user_id, quotas.KEYPAIRS)
    assert used["key_pairs"] == 5
    # a duplicate name is a 409 and takes nothing
    dup = await cloud.call("POST", "/v2.1/os-keypairs", alice, json={
        "keypair": {"name": "k0" if rs[0].status_code == 201 else "kx",
                    "public_key": _public_key()}})
    assert dup.status_code in (403, 409)
    names = [k["keypair"]["name"] for k in
             (await cloud.ok("GET", "/v2.1/os-keypairs", alice))["keypairs"]]
    for name in names[:2]:
        assert (await cloud.call("DELETE", f"/v2.1/os-keypairs/{name}", alice)).status_code \
            == 204
    assert (await quotas.usage(cloud.objects, alice.user_id, quotas.KEYPAIRS))["key_pairs"] == 3
    rs = await _race([cloud.call("POST", "/v2.1/os-keypairs", alice, json={
        "keypair": {"name": f"j{i}", "public_key": _public_key()}}) for i in range(CLIENTS)])
    assert _outcomes(rs) == {201: 2, 403: CLIENTS - 2}, [r.text for r in rs]
    assert (await _usage_matches(cloud, alice.user_id, quotas.KEYPAIRS))["key_pairs"] == 5
    detail = await cloud.ok("GET", f"/v2.1/os-quota-sets/{alice.project_id}/detail", alice)
    assert detail["quota_set"]["key_pairs"]["in_use"] == 5
