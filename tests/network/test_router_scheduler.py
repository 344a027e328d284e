"""The router scheduler (host binding, legs bound with the router, FIPs of deleted ports
released) and the router agent's desired state, on the real API and store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kumo.agent import network_router_desired as desired
from kumo.control.routers import RouterScheduler
from kumo.drivers.linuxnet_router import render_nat
from kumo.model import compute as cm
from kumo.model import network as nm

from .conftest import Neutron, Tenant, until


async def _host(neutron: Neutron, name: str) -> None:
    await neutron.objects.create({"kind": cm.HOST, "metadata": {"name": name}, "spec": {}})
    await neutron.objects.create({"kind": cm.LEASE, "metadata": {"name": name}, "spec": {
        "holderIdentity": name, "renewTime": time.time() + 3600,
        "leaseDurationSeconds": 3600}})


async def test_router_bound_with_its_legs_and_desired_state(neutron: Neutron, admin: Tenant,
                                                            alice: Tenant) -> None:
    objects = neutron.objects
    await _host(neutron, "hv1")
    await _host(neutron, "hv2")
    sched = RouterScheduler(neutron.rt)
    task = asyncio.create_task(sched.run())
    try:
        ext = await neutron.network(admin, "public", **{"router:external": True})
        ext_sub = await neutron.subnet(admin, ext["id"], "198.18.100.0/24")
        r1 = (await neutron.ok("POST", "/v2.0/routers", alice, 201, json={"router": {
            "name": "r1", "external_gateway_info": {"network_id": ext["id"]}}}))["router"]
        r2 = (await neutron.ok("POST", "/v2.0/routers", alice, 201, json={
            "router": {"name": "r2"}}))["router"]
        net = await neutron.network(alice, "a")
        sub = await neutron.subnet(alice, net["id"], "10.1.0.0/24")
        await neutron.ok("PUT", f"/v2.0/routers/{r1['id']}/add_router_interface", alice,
                         json={"subnet_id": sub["id"]})
        port = await neutron.port(alice, net["id"])

        async def bound() -> dict[str, str] | None:
            got = {r["metadata"]["name"]: r["spec"].get("host")
                   for r in (await objects.list(nm.ROUTER, alice.project_id)).items}
            return got if all(got.values()) and len(got) == 2 else None

        hosts = await until("routers bound", bound)
        assert set(hosts.values()) == {"hv1", "hv2"}  # the least loaded host each time
        assert hosts[r2["id"]] != hosts[r1["id"]]
        h1 = hosts[r1["id"]]
        evs = (await objects.list("Event", alice.project_id)).items
        assert any(e["reason"] == "RouterScheduled" and e["involvedObject"]["name"] == r1["id"]
                   for e in evs)

        async def legs_bound() -> list[dict[str, Any]] | None:
            legs = (await objects.list(nm.PORT, None, label_selector=(
                f"{nm.DEVICE_LABEL}={r1['id']}"))).items
            ok = len(legs) == 2 and all(p["spec"].get("bindingHostId") == h1 for p in legs)
            return legs if ok else None

        legs = await until("legs bound with the router", legs_bound)
        fip = (await neutron.ok("POST", "/v2.0/floatingips", alice, 201, json={"floatingip": {
            "floating_network_id": ext["id"], "port_id": port["id"]}}))["floatingip"]

        routers = (await objects.list(nm.ROUTER, None)).items
        subnets = (await objects.list(nm.SUBNET, None)).items
        fips = (await objects.list(nm.FLOATING_IP, None)).items
        want = desired.compute(h1, routers, legs, subnets, fips)
        assert set(want) == {r1["id"]}  # r2 lives on the other host
        cfg = want[r1["id"]][1]
        assert cfg.netns == f"qrouter-{r1['id']}"
        assert cfg.gateway_ip == r1["external_gateway_info"]["external_fixed_ips"][0][
            "ip_address"]
        assert cfg.gateway_nexthop == ext_sub["gateway_ip"] and cfg.snat is True
        assert cfg.internal_cidrs == ("10.1.0.0/24",)
        assert [(f.floating_ip, f.fixed_ip) for f in cfg.fips] == [
            (fip["floating_ip_address"], port["fixed_ips"][0]["ip_address"])]

        # administratively down (Tempest makes routers so): the legs stay bound to the
        # router's host (their ports stay ACTIVE, as Neutron's), the namespace stays
        # with them, and the agent's config for it neither forwards nor NATs
        await neutron.ok("PUT", f"/v2.0/routers/{r1['id']}", alice,
                         json={"router": {"admin_state_up": False}})

        async def down_config() -> Any:
            routers = (await objects.list(nm.ROUTER, None)).items
            if any(r["spec"].get("adminStateUp", True) for r in routers
                   if r["metadata"]["name"] == r1["id"]):
                return None
            legs = (await objects.list(nm.PORT, None, label_selector=(
                f"{nm.DEVICE_LABEL}={r1['id']}"))).items
            return desired.compute(h1, routers, legs, subnets, fips).get(r1["id"])

        _, down = await until("router down", down_config)
        assert down.netns == cfg.netns and down.forwarding is False
        assert down.fips == () and down.gateway_if is None and down.routes == ()
        assert "snat" not in render_nat(down) and "dnat" not in render_nat(down)
        await asyncio.sleep(0.3)  # the scheduler has seen the change: nothing unbinds
        legs_now = (await objects.list(nm.PORT, None, label_selector=(
            f"{nm.DEVICE_LABEL}={r1['id']}"))).items
        assert len(legs_now) == 2
        assert all(p["spec"].get("bindingHostId") == h1 for p in legs_now)
        await neutron.ok("PUT", f"/v2.0/routers/{r1['id']}", alice,
                         json={"router": {"admin_state_up": True}})
        routers = (await objects.list(nm.ROUTER, None)).items
        assert desired.compute(h1, routers, legs_now, subnets, fips)[r1["id"]][1] == cfg

        # the FIP's port goes: the FIP is disassociated (and stays allocated)
        await neutron.ok("DELETE", f"/v2.0/ports/{port['id']}", alice, 204)

        async def released() -> bool:
            got = (await neutron.ok("GET", f"/v2.0/floatingips/{fip['id']}", alice))[
                "floatingip"]
            return got["port_id"] is None and got["router_id"] is None

        await until("FIP released", released)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
