"""Quota sets, /limits, hypervisors, services and availability zones."""

from __future__ import annotations

from kumo.model import compute as cm

from .conftest import Nova, Tenant


async def test_quota_sets(nova: Nova, alice: Tenant, public_image: str) -> None:
    pid = alice.project_id
    q = (await nova.ok("GET", f"/v2.1/os-quota-sets/{pid}", alice))["quota_set"]
    assert q["id"] == pid
    assert (q["instances"], q["cores"], q["ram"], q["key_pairs"]) == (10, 20, 51200, 100)
    assert "floating_ips" not in q and "injected_files" not in q
    old = (await nova.ok("GET", f"/v2.1/os-quota-sets/{pid}", alice, version="2.1"))["quota_set"]
    assert old["floating_ips"] == 10 and old["injected_files"] == 5
    defaults = (await nova.ok("GET", f"/v2.1/os-quota-sets/{pid}/defaults", alice))["quota_set"]
    assert defaults["instances"] == 10
    r = await nova.call("PUT", f"/v2.1/os-quota-sets/{pid}", alice,
                        json={"quota_set": {"instances": 50}})
    assert r.status_code == 403
    bob = await nova.tenant("beta")
    assert (await nova.call("GET", f"/v2.1/os-quota-sets/{pid}", bob)).status_code == 403
    await nova.boot(alice, public_image, flavor="3", min_count=2, max_count=2)
    admin = await nova.admin()
    updated = await nova.ok("PUT", f"/v2.1/os-quota-sets/{pid}", admin,
                            json={"quota_set": {"instances": 5, "cores": "8"}})
    assert "id" not in updated["quota_set"]
    assert (updated["quota_set"]["instances"], updated["quota_set"]["cores"]) == (5, 8)
    r = await nova.call("PUT", f"/v2.1/os-quota-sets/{pid}", admin,
                        json={"quota_set": {"cores": 3}})
    assert r.status_code == 400
    assert r.json()["badRequest"]["message"] == (
        "Quota limit 3 for cores must be greater than or equal to already used and reserved 4.")
    await nova.ok("PUT", f"/v2.1/os-quota-sets/{pid}", admin,
                  json={"quota_set": {"cores": 3, "force": True}})
    for body in ({"bogus": 1}, {"cores": -2}, {"cores": "x"}, {"floating_ips": 3}):
        r = await nova.call("PUT", f"/v2.1/os-quota-sets/{pid}", admin, json={"quota_set": body})
        assert r.status_code == 400, body
    detail = (await nova.ok("GET", f"/v2.1/os-quota-sets/{pid}/detail", alice))["quota_set"]
    assert detail["instances"] == {"limit": 5, "in_use": 2, "reserved": 0}
    assert detail["cores"] == {"limit": 3, "in_use": 4, "reserved": 0}
    assert detail["ram"]["in_use"] == 8192
    qs = await nova.objects.get(cm.QUOTA_SET, pid, "compute")
    assert qs["spec"] == {"instances": 5, "cores": 3}
    r = await nova.call("GET", f"/v2.1/os-quota-sets/{'f' * 32}", admin)
    assert r.status_code == 400 and "is not a valid project" in r.text
    assert (await nova.call("DELETE", f"/v2.1/os-quota-sets/{pid}", admin)).status_code == 202
    q = (await nova.ok("GET", f"/v2.1/os-quota-sets/{pid}", alice))["quota_set"]
    assert q["instances"] == 10


async def test_limits(nova: Nova, alice: Tenant, public_image: str) -> None:
    await nova.boot(alice, public_image, flavor="1", min_count=2, max_count=2)
    await nova.ok("POST", "/v2.1/os-server-groups", alice,
                  json={"server_group": {"name": "g", "policy": "affinity"}})
    limits = (await nova.ok("GET", "/v2.1/limits", alice))["limits"]
    assert limits["rate"] == []
    a = limits["absolute"]
    assert (a["maxTotalInstances"], a["maxTotalCores"], a["maxTotalRAMSize"]) == (10, 20, 51200)
    assert (a["totalInstancesUsed"], a["totalCoresUsed"], a["totalRAMUsed"]) == (2, 2, 1024)
    assert a["totalServerGroupsUsed"] == 1 and a["maxServerMeta"] == 128
    assert "maxImageMeta" not in a and "maxPersonality" not in a
    assert "maxTotalFloatingIps" not in a
    old = (await nova.ok("GET", "/v2.1/limits", alice, version="2.1"))["limits"]["absolute"]
    assert old["maxImageMeta"] == 128 and old["maxPersonality"] == 5
    assert old["totalFloatingIpsUsed"] == 0
    bob = await nova.tenant("beta")
    r = await nova.call("GET", f"/v2.1/limits?tenant_id={alice.project_id}", bob)
    assert r.status_code == 403
    admin = await nova.admin()
    theirs = await nova.ok("GET", f"/v2.1/limits?tenant_id={alice.project_id}", admin)
    assert theirs["limits"]["absolute"]["totalInstancesUsed"] == 2


async def test_hypervisors(nova: Nova, alice: Tenant, public_image: str) -> None:
    assert (await nova.call("GET", "/v2.1/os-hypervisors", alice)).status_code == 403
    admin = await nova.admin()
    assert (await nova.ok("GET", "/v2.1/os-hypervisors", admin))["hypervisors"] == []
    h1 = await nova.host("node1")
    await nova.host("node2", alive=False, enabled=False)
    sid = await nova.active(alice, public_image)
    await nova.objects.create({"kind": cm.HOST_ALLOCATION, "metadata": {"name": "node1"},
                               "spec": {"allocations": {"x": {
                                   "vcpus": 1, "memoryMb": 128, "diskGb": 1, "server": sid,
                                   "namespace": alice.project_id}}}})
    hvs = (await nova.ok("GET", "/v2.1/os-hypervisors", admin))["hypervisors"]
    assert [(h["hypervisor_hostname"], h["state"], h["status"]) for h in hvs] == [
        ("node1", "up", "enabled"), ("node2", "down", "disabled")]
    assert hvs[0]["id"] == h1["metadata"]["uid"]
    detail = (await nova.ok("GET", "/v2.1/os-hypervisors/detail", admin))["hypervisors"][0]
    assert detail["hypervisor_type"] == "QEMU" and detail["host_ip"] == "198.18.0.2"
    assert detail["service"]["host"] == "node1" and "vcpus" not in detail
    old = (await nova.ok("GET", "/v2.1/os-hypervisors/detail", admin,
                         version="2.87"))["hypervisors"][0]
    assert (old["vcpus"], old["vcpus_used"], old["memory_mb"], old["memory_mb_used"]) == (
        8, 1, 16384, 128)
    assert old["running_vms"] == 1 and old["free_disk_gb"] == 99
    shown = await nova.ok("GET", f"/v2.1/os-hypervisors/{hvs[0]['id']}", admin)
    assert shown["hypervisor"]["hypervisor_hostname"] == "node1"
    r = await nova.call("GET", "/v2.1/os-hypervisors/not-a-uuid", admin)
    assert r.status_code == 400 and "Invalid uuid not-a-uuid" in r.text
    numeric = (await nova.ok("GET", "/v2.1/os-hypervisors", admin, version="2.1"))
    int_id = numeric["hypervisors"][0]["id"]
    assert isinstance(int_id, int)
    assert (await nova.call("GET", f"/v2.1/os-hypervisors/{int_id}", admin,
                            version="2.1")).status_code == 200
    r = await nova.call("GET", "/v2.1/os-hypervisors/999999999", admin, version="2.1")
    assert r.status_code == 404 and "could not be found" in r.text
    stats = (await nova.ok("GET", "/v2.1/os-hypervisors/statistics", admin,
                           version="2.1"))["hypervisor_statistics"]
    assert stats["count"] == 2 and stats["vcpus"] == 16 and stats["running_vms"] == 1
    assert (await nova.call("GET", "/v2.1/os-hypervisors/statistics", admin)).status_code == 404
    with_servers = await nova.ok("GET", "/v2.1/os-hypervisors?with_servers=true&"
                                 "hypervisor_hostname_pattern=node1", admin)
    assert with_servers["hypervisors"][0]["servers"] == [{"name": sid, "uuid": sid}]
    r = await nova.call("GET", "/v2.1/os-hypervisors?hypervisor_hostname_pattern=zzz", admin)
    assert r.status_code == 404


async def test_services(nova: Nova, alice: Tenant, public_image: str) -> None:
    assert (await nova.call("GET", "/v2.1/os-services", alice)).status_code == 403
    admin = await nova.admin()
    await nova.host("node1", az="zone-a")
    services = (await nova.ok("GET", "/v2.1/os-services", admin))["services"]
    assert [s["binary"] for s in services] == ["nova-scheduler", "nova-conductor",
                                               "nova-compute"]
    compute = services[2]
    assert (compute["host"], compute["zone"], compute["status"], compute["state"]) == (
        "node1", "zone-a", "enabled", "up")
    assert compute["forced_down"] is False and services[0]["zone"] == "internal"
    only = await nova.ok("GET", "/v2.1/os-services?binary=nova-compute", admin)
    assert len(only["services"]) == 1
    r = await nova.call("PUT", f"/v2.1/os-services/{compute['id']}", admin,
                        json={"status": "disabled", "disabled_reason": "maintenance"})
    assert r.status_code == 200, r.text
    assert r.json()["service"]["status"] == "disabled"
    host = await nova.objects.get(cm.HOST, "", "node1")
    assert host["spec"]["enabled"] is False and host["spec"]["disabledReason"] == "maintenance"
    r = await nova.call("PUT", f"/v2.1/os-services/{compute['id']}", admin,
                        json={"status": "enabled", "disabled_reason": "x"})
    assert r.status_code == 400
    r = await nova.call("PUT", f"/v2.1/os-services/{services[0]['id']}", admin,
                        json={"status": "disabled"})
    assert r.status_code == 400 and "nova-scheduler" in r.text
    r = await nova.call("PUT", "/v2.1/os-services/enable", admin, version="2.1",
                        json={"host": "node1", "binary": "nova-compute"})
    assert r.json() == {"service": {"host": "node1", "binary": "nova-compute",
                                    "status": "enabled"}}
    assert (await nova.objects.get(cm.HOST, "", "node1"))["spec"]["enabled"] is True
    r = await nova.call("PUT", "/v2.1/os-services/disable-log-reason", admin, version="2.1",
                        json={"host": "node1", "binary": "nova-compute",
                              "disabled_reason": "why"})
    assert r.json()["service"]["disabled_reason"] == "why"
    sid = await nova.active(alice, public_image)
    r = await nova.call("DELETE", f"/v2.1/os-services/{compute['id']}", admin)
    assert r.status_code == 409
    await nova.call("DELETE", f"/v2.1/servers/{sid}", alice)
    await nova.release(alice.project_id, sid)
    assert (await nova.call("DELETE", f"/v2.1/os-services/{compute['id']}", admin)
            ).status_code == 204
    assert await nova.objects.try_get(cm.HOST, "", "node1") is None


async def test_availability_zones(nova: Nova, alice: Tenant) -> None:
    assert (await nova.ok("GET", "/v2.1/os-availability-zone", alice))[
        "availabilityZoneInfo"] == []
    await nova.host("node1", az="zone-a")
    await nova.host("node2", az="zone-b", enabled=False)
    await nova.host("node3")
    zones = (await nova.ok("GET", "/v2.1/os-availability-zone", alice))["availabilityZoneInfo"]
    assert zones == [
        {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None},
        {"zoneName": "zone-a", "zoneState": {"available": True}, "hosts": None},
        {"zoneName": "zone-b", "zoneState": {"available": False}, "hosts": None}]
    assert (await nova.call("GET", "/v2.1/os-availability-zone/detail", alice)
            ).status_code == 403
    admin = await nova.admin()
    detail = (await nova.ok("GET", "/v2.1/os-availability-zone/detail",
                            admin))["availabilityZoneInfo"]
    by_name = {z["zoneName"]: z for z in detail}
    assert set(by_name["internal"]["hosts"].popitem()[1]) == {"nova-scheduler",
                                                             "nova-conductor"}
    assert by_name["zone-a"]["hosts"]["node1"]["nova-compute"]["available"] is True
    assert by_name["zone-b"]["hosts"] is None


async def test_aggregates_follow_zones(nova: Nova, alice: Tenant) -> None:
    admin = await nova.admin()
    await nova.host("node1", az="zone-a")
    await nova.host("node2", az="zone-a")
    await nova.host("node3")
    aggs = (await nova.ok("GET", "/v2.1/os-aggregates", admin))["aggregates"]
    assert [(a["name"], a["availability_zone"], a["hosts"]) for a in aggs] == [
        ("zone-a", "zone-a", ["node1", "node2"])]
    shown = await nova.ok("GET", f"/v2.1/os-aggregates/{aggs[0]['uuid']}", admin)
    assert shown["aggregate"]["metadata"] == {"availability_zone": "zone-a"}
    assert (await nova.call("GET", "/v2.1/os-aggregates", alice)).status_code == 403
    assert (await nova.call("GET", "/v2.1/os-aggregates/123", admin)).status_code == 404
