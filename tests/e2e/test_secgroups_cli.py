"""Security groups through the real openstack CLI and openstacksdk: CRUD, the rule
forms Neutron accepts, port security and allowed address pairs, Nova's proxies, and
the error answers the clients show."""

from __future__ import annotations

import uuid

import openstack
import pytest

from .vmhelpers import wait_for

pytestmark = [pytest.mark.e2e]


def _u(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_rules_ports_and_errors_with_cli(cloud) -> None:
    os_ = cloud.openstack
    web = os_("security", "group", "create", _u("sg-web"))
    db = os_("security", "group", "create", _u("sg-db"))
    forms = [("--protocol", "tcp", "--dst-port", "8000:8080", "--remote-ip", "10.1.0.0/16"),
             ("--protocol", "udp", "--dst-port", "53", "--remote-group", web["id"]),
             ("--protocol", "icmp", "--icmp-type", "8", "--icmp-code", "0"),
             ("--protocol", "112",),  # VRRP by number
             ("--ethertype", "IPv6", "--protocol", "ipv6-icmp", "--remote-ip", "::/0"),
             ("--egress", "--protocol", "tcp", "--dst-port", "443")]
    made = [os_("security", "group", "rule", "create", *f, db["id"]) for f in forms]
    assert (made[0]["port_range_min"], made[0]["port_range_max"]) == (8000, 8080)
    assert made[1]["remote_group_id"] == web["id"]
    assert (made[2]["port_range_min"], made[2]["port_range_max"]) == (8, 0)
    assert made[3]["protocol"] == "112" and made[4]["ether_type"] == "IPv6"
    listed = {r["ID"] for r in os_("security", "group", "rule", "list", db["id"])}
    assert {r["id"] for r in made} <= listed

    bad = [(("--protocol", "gre", "--dst-port", "80"), "Invalid protocol gre for port range"),
           (("--protocol", "icmp", "--icmp-type", "300"), "ICMP type"),
           (("--protocol", "tcp", "--dst-port", "8000:8080", "--remote-ip", "10.1.0.0/16"),
            "already exists")]
    for args, words in bad:
        p = os_("security", "group", "rule", "create", *args, db["id"], check=False)
        assert p.returncode != 0 and words in p.stderr, (args, p.stderr)

    net = os_("network", "create", _u("sg-net"))["id"]
    os_("subnet", "create", "--network", net, "--subnet-range", "10.91.0.0/24", _u("sg-sub"))
    port = os_("port", "create", "--network", net, "--security-group", db["id"],
               "--allowed-address", "ip-address=10.91.0.200", _u("sg-port"))
    assert port["security_group_ids"] == [db["id"]] and port["port_security_enabled"]
    assert port["allowed_address_pairs"][0]["ip_address"] == "10.91.0.200"
    p = os_("port", "set", "--disable-port-security", port["id"], json_out=False, check=False)
    assert p.returncode != 0 and "security group" in p.stderr.lower(), p.stderr
    p = os_("security", "group", "delete", db["id"], json_out=False, check=False)
    assert p.returncode != 0 and "in use" in p.stderr, p.stderr
    os_("port", "set", "--no-security-group", "--no-allowed-address", port["id"],
        json_out=False)
    os_("port", "set", "--disable-port-security", port["id"], json_out=False)
    shown = os_("port", "show", port["id"])
    assert shown["port_security_enabled"] is False and shown["security_group_ids"] == []
    os_("port", "delete", port["id"], json_out=False)
    os_("security", "group", "delete", db["id"], web["id"], json_out=False)
    os_("network", "delete", net, json_out=False)


def test_server_groups_with_cli_and_sdk(cloud) -> None:
    os_ = cloud.openstack
    net = os_("network", "create", _u("sgs-net"))["id"]
    os_("subnet", "create", "--network", net, "--subnet-range", "10.92.0.0/24", _u("sgs-sub"))
    web = os_("security", "group", "create", _u("sgs-web"))
    images = {i["Name"] for i in os_("image", "list")}
    if "kumo-tiny" not in images:
        pytest.skip("the session cloud has no kumo-tiny image")
    server = os_("server", "create", "--image", "kumo-tiny", "--flavor", "m1.nano",
                 "--nic", f"net-id={net}", _u("sgs-vm"))
    os_("server", "add", "security", "group", server["id"], web["id"], json_out=False)
    conn = openstack.connect(auth_url=cloud.base_url + "/v3", username="admin",
                             password=cloud.admin_password, project_name="admin",
                             user_domain_id="default", project_domain_id="default",
                             region_name="RegionOne")
    try:
        sdk_server = conn.compute.get_server(server["id"])
        conn.compute.fetch_server_security_groups(sdk_server)
        assert {g["name"] for g in sdk_server.security_groups} == {"default", web["name"]}
        conn.compute.remove_security_group_from_server(sdk_server, {"name": web["name"]})
        conn.compute.fetch_server_security_groups(sdk_server)
        assert {g["name"] for g in sdk_server.security_groups} == {"default"}
        with pytest.raises(openstack.exceptions.BadRequestException, match="not associated"):
            conn.compute.remove_security_group_from_server(sdk_server, {"name": web["name"]})
        with pytest.raises(openstack.exceptions.BadRequestException,
                           match="port_range_min must be <= port_range_max"):
            conn.network.create_security_group_rule(
                security_group_id=web["id"], direction="ingress", protocol="tcp",
                port_range_min=90, port_range_max=80)
        with pytest.raises(openstack.exceptions.BadRequestException,
                           match="Only remote_ip_prefix or remote_group_id"):
            conn.network.create_security_group_rule(
                security_group_id=web["id"], direction="ingress", remote_group_id=web["id"],
                remote_ip_prefix="10.0.0.0/8")
    finally:
        conn.close()
        os_("server", "delete", "--wait", server["id"], json_out=False)
        os_("security", "group", "delete", web["id"], json_out=False)
        wait_for("the server's port gone", lambda: os_(
            "network", "delete", net, json_out=False, check=False).returncode == 0, timeout=60)
