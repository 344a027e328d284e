"""Routers and floating IPs through the real `openstack` CLI and openstacksdk against a
`kumo up` whose agent programs real router namespaces (fake VMs, Linux networking).

The cloud runs inside a network namespace this module creates; its bridges live
there, and the router namespaces it makes (``qrouter-<id>``, machine-wide names)
are deleted at the end. No packet leaves these namespaces.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from ..conftest import LiveCloud
from ..multihost import netns_list
from ..nscloud import namespaced_cloud
from .vmhelpers import wait_for

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def l3_cloud() -> Iterator[LiveCloud]:
    with namespaced_cloud(f"kt-l3-{secrets.token_hex(3)}",
                          ["--driver", "fake", "--net-driver", "linux", "--no-image"],
                          "kumo-l3-") as c:
        yield c


def nat_table(router_id: str) -> str:
    p = subprocess.run(["ip", "netns", "exec", f"qrouter-{router_id}", "nft", "list", "table",
                        "ip", "kumo_router"], capture_output=True, text=True, check=False)
    return p.stdout if p.returncode == 0 else ""


def test_router_and_floating_ip_cli(l3_cloud: LiveCloud) -> None:  # noqa: PLR0915
    os_ = l3_cloud.openstack
    public = wait_for("public network", lambda: next(
        (n for n in os_("network", "list", "--external") if n["Name"] == "public"), None),
        timeout=30)
    assert os_("network", "show", public["ID"])["router:external"] is True
    net = os_("network", "create", "l3-net")
    sub = os_("subnet", "create", "--network", net["id"], "--subnet-range", "10.40.0.0/24",
              "l3-sub")
    router = os_("router", "create", "l3-router")
    rid = router["id"]
    os_("router", "set", "--external-gateway", "public", rid, json_out=False)
    os_("router", "add", "subnet", rid, sub["id"], json_out=False)
    shown = os_("router", "show", rid)
    gw = shown["external_gateway_info"]
    assert gw["network_id"] == public["ID"] and gw["enable_snat"] is True
    gw_ip = gw["external_fixed_ips"][0]["ip_address"]
    assert gw_ip.startswith("172.24.4.")
    again = os_("router", "add", "subnet", rid, sub["id"], json_out=False, check=False)
    assert again.returncode != 0 and "already has a port" in again.stderr
    busy = os_("router", "delete", rid, json_out=False, check=False)
    assert busy.returncode != 0 and "still has ports" in busy.stderr

    # the agent built the namespace: SNAT for the subnet to the gateway address
    wait_for("router namespace with SNAT", lambda: f"snat to {gw_ip}" in nat_table(rid),
             timeout=30)
    port = os_("port", "create", "--network", net["id"], "l3-port")
    fixed = port["fixed_ips"][0]["ip_address"]
    fip = os_("floating", "ip", "create", "--port", port["id"], "public")
    assert fip["port_id"] == port["id"] and fip["fixed_ip_address"] == fixed
    assert fip["router_id"] == rid
    wait_for("FIP ACTIVE", lambda: os_("floating", "ip", "show", fip["id"])["status"] ==
             "ACTIVE", timeout=30)
    assert f"dnat to {fixed}" in nat_table(rid)
    assert f"snat to {fip['floating_ip_address']}" in nat_table(rid)
    addrs = subprocess.run(["ip", "-n", f"qrouter-{rid}", "-j", "addr", "show", "lo"],
                           capture_output=True, text=True, check=True).stdout
    assert fip["floating_ip_address"] in {a["local"] for i in json.loads(addrs)
                                          for a in i["addr_info"]}

    os_("floating", "ip", "unset", "--port", fip["id"], json_out=False)
    assert os_("floating", "ip", "show", fip["id"])["status"] == "DOWN"
    wait_for("DNAT gone", lambda: f"dnat to {fixed}" not in nat_table(rid), timeout=30)
    os_("floating", "ip", "delete", fip["id"], json_out=False)
    os_("router", "remove", "subnet", rid, sub["id"], json_out=False)
    os_("router", "unset", "--external-gateway", rid, json_out=False)
    assert os_("router", "show", rid)["external_gateway_info"] in (None, {}, "")
    os_("router", "delete", rid, json_out=False)
    wait_for("router namespace removed", lambda: f"qrouter-{rid}" not in netns_list(),
             timeout=30)


SDK_SCRIPT = """
import time
import openstack

conn = openstack.connect(cloud="kumo")
public = conn.network.find_network("public")
net = conn.network.create_network(name="sdk-net")
sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.41.0.0/24")
r = conn.network.create_router(name="sdk-router",
                               external_gateway_info={"network_id": public.id})
conn.network.add_interface_to_router(r, subnet_id=sub.id)
port = conn.network.create_port(network_id=net.id)
fip = conn.network.create_ip(floating_network_id=public.id)
assert fip.status == "DOWN", fip
fip = conn.network.update_ip(fip, port_id=port.id)
assert fip.router_id == r.id, fip
deadline = time.time() + 30
while conn.network.get_ip(fip.id).status != "ACTIVE" and time.time() < deadline:
    time.sleep(0.3)
assert conn.network.get_ip(fip.id).status == "ACTIVE"
routes = [{"destination": "10.50.0.0/16", "nexthop": "10.41.0.9"}]
r = conn.network.update_router(r, routes=routes)
assert r.routes == routes, r.routes
try:
    conn.network.delete_router(r)
    raise AssertionError("a router with interfaces was deleted")
except openstack.exceptions.ConflictException as exc:
    assert "still has ports" in str(exc), exc
conn.network.delete_ip(fip)
conn.network.update_router(r, routes=[])
conn.network.remove_interface_from_router(r, subnet_id=sub.id)
conn.network.delete_router(r)
assert conn.network.find_router("sdk-router") is None
print("SDK-OK")
"""


def test_router_sdk(l3_cloud: LiveCloud) -> None:
    """openstacksdk's network proxy, run inside the cloud's namespace."""
    import sys

    p = subprocess.run([*l3_cloud.ns_prefix(), sys.executable, "-c", SDK_SCRIPT],
                       capture_output=True, text=True, env=l3_cloud.env(), timeout=180,
                       check=False)
    assert p.returncode == 0 and "SDK-OK" in p.stdout, p.stderr[-3000:]
