"""Nova through the real `openstack` CLI against a live `kumo up`: the parts that need no VM."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

pytestmark = pytest.mark.e2e


def test_flavors(cloud) -> None:
    os_ = cloud.openstack
    names = {f["Name"] for f in os_("flavor", "list")}
    assert {"m1.nano", "m1.micro", "m1.tiny", "m1.small"} <= names
    nano = os_("flavor", "show", "m1.nano")
    assert (nano["id"], nano["vcpus"], nano["ram"], nano["disk"]) == ("42", 1, 128, 1)
    tag = secrets.token_hex(3)
    created = os_("flavor", "create", "--vcpus", "2", "--ram", "256", "--disk", "2",
                  "--description", "e2e flavor", f"e2e-{tag}")
    assert (created["vcpus"], created["ram"], created["disk"]) == (2, 256, 2)
    os_("flavor", "set", "--property", "hw:cpu_policy=shared", f"e2e-{tag}", json_out=False)
    shown = os_("flavor", "show", f"e2e-{tag}")
    assert shown["properties"] == {"hw:cpu_policy": "shared"}
    assert shown["description"] == "e2e flavor"
    private = os_("flavor", "create", "--vcpus", "1", "--ram", "64", "--disk", "1",
                  "--private", f"e2e-priv-{tag}")
    assert private["os-flavor-access:is_public"] is False
    assert f"e2e-priv-{tag}" not in {f["Name"] for f in os_("flavor", "list")}
    assert f"e2e-priv-{tag}" in {f["Name"] for f in os_("flavor", "list", "--all")}
    os_("flavor", "delete", f"e2e-{tag}", f"e2e-priv-{tag}", json_out=False)
    p = os_("flavor", "show", f"e2e-{tag}", check=False)
    assert p.returncode != 0


def test_keypairs(cloud, tmp_path: Path) -> None:
    os_ = cloud.openstack
    tag = secrets.token_hex(3)
    p = os_("keypair", "create", f"gen-{tag}", json_out=False)
    assert "PRIVATE KEY-----" in p.stdout
    pub = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    pub_file = tmp_path / "id.pub"
    pub_file.write_text(pub + " e2e@test\n")
    imported = os_("keypair", "create", "--public-key", str(pub_file), f"imp-{tag}")
    assert imported["name"] == f"imp-{tag}" and len(imported["fingerprint"].split(":")) == 16
    assert imported["type"] == "ssh"
    listed = {k["Name"] for k in os_("keypair", "list")}
    assert {f"gen-{tag}", f"imp-{tag}"} <= listed
    shown = os_("keypair", "show", f"imp-{tag}")
    assert shown["fingerprint"] == imported["fingerprint"]
    p = os_("keypair", "create", "--public-key", str(pub_file), f"imp-{tag}", check=False)
    assert p.returncode != 0 and "already exists" in p.stderr
    os_("keypair", "delete", f"gen-{tag}", f"imp-{tag}", json_out=False)
    assert f"imp-{tag}" not in {k["Name"] for k in os_("keypair", "list")}


def test_server_groups(cloud) -> None:
    os_ = cloud.openstack
    tag = secrets.token_hex(3)
    group = os_("server", "group", "create", "--policy", "anti-affinity", f"spread-{tag}")
    assert group["policy"] == "anti-affinity" and group["name"] == f"spread-{tag}"
    assert f"spread-{tag}" in {g["Name"] for g in os_("server", "group", "list")}
    assert os_("server", "group", "show", group["id"])["members"] in ([], "")
    os_("server", "group", "delete", group["id"], json_out=False)
    assert f"spread-{tag}" not in {g["Name"] for g in os_("server", "group", "list")}


def test_hosts_services_zones(cloud) -> None:
    os_ = cloud.openstack
    assert isinstance(os_("hypervisor", "list"), list)
    services = os_("compute", "service", "list")
    binaries = {s["Binary"] for s in services}
    assert {"nova-scheduler", "nova-conductor"} <= binaries
    assert all(s["Status"] in ("enabled", "disabled") for s in services)
    zones = os_("availability", "zone", "list", "--compute")
    assert isinstance(zones, list)
    computes = [s for s in services if s["Binary"] == "nova-compute"]
    if computes:
        assert {z["Zone Name"] for z in zones} >= {s["Zone"] for s in computes}


def test_limits_and_quotas(cloud) -> None:
    os_ = cloud.openstack
    limits = {row["Name"]: row["Value"] for row in os_("limits", "show", "--absolute")}
    assert limits["max_total_instances"] == 10 and limits["max_total_cores"] == 20
    assert limits["max_total_ram_size"] == 51200 and "total_instances_used" in limits
    quota = {row["Resource"]: row["Limit"] for row in os_("quota", "show")}
    assert quota["instances"] == 10 and quota["cores"] == 20 and quota["ram"] == 51200
    project = os_("project", "create", f"quota-{secrets.token_hex(3)}")["id"]
    os_("quota", "set", "--instances", "3", project, json_out=False)
    shown = {row["Resource"]: row["Limit"] for row in os_("quota", "show", project)}
    assert shown["instances"] == 3
    os_("project", "delete", project, json_out=False)


def test_server_create_with_unknown_flavor(cloud, tmp_path: Path) -> None:
    os_ = cloud.openstack
    blob = tmp_path / "tiny.img"
    blob.write_bytes(b"\0" * 4096)
    image = os_("image", "create", "--file", str(blob), "--disk-format", "raw",
                "--container-format", "bare", f"e2e-flavorless-{secrets.token_hex(3)}")
    try:
        p = os_("server", "create", "--image", image["id"], "--flavor", "no-such-flavor",
                "--nic", "none", "vm-bad", check=False)
        assert p.returncode != 0
        assert "no-such-flavor" in p.stderr
        assert "vm-bad" not in {s["Name"] for s in os_("server", "list")}
        p = os_("server", "create", "--image", image["id"], "--flavor", "m1.nano",
                "--nic", "none", "--user-data", str(blob), "--key-name", "no-such-key",
                "vm-bad", check=False)
        assert p.returncode != 0 and "Invalid key_name provided." in p.stderr
    finally:
        os_("image", "delete", image["id"], json_out=False)
