"""`kumo up` networking on one host: tenant network, DHCP, metadata, hot-plug.

The whole all-in-one cloud runs inside a network namespace this module creates
(and deletes): its bridges, taps, the DHCP namespace and every guest packet stay
in there. The CLI runs in the same namespace.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ..conftest import LiveCloud
from ..nscloud import namespaced_cloud
from .vmhelpers import BOOT_MARKER, need_qemu, wait_for, wait_image_active

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def ssh_public_key(comment: str) -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{raw.decode()} {comment}"


@pytest.fixture(scope="module")
def ns_cloud() -> Iterator[LiveCloud]:
    need_qemu()
    with namespaced_cloud(f"kt-up-{secrets.token_hex(3)}",
                          ["--driver", "qemu", "--net-driver", "linux"], "kumo-netns-") as c:
        yield c


def console(cloud: LiveCloud, sid: str) -> str:
    p = cloud.openstack("console", "log", "show", sid, json_out=False, check=False)
    return p.stdout


def test_vms_get_dhcp_addresses_metadata_and_reach_each_other(ns_cloud: LiveCloud,
                                                               tmp_path: Path) -> None:
    os_ = ns_cloud.openstack
    wait_image_active(os_)
    net = os_("network", "create", "sh-net")
    assert net["mtu"] == 1450
    subnet = os_("subnet", "create", "--network", net["id"], "--subnet-range", "10.20.0.0/24",
                 "sh-sub")
    keys = {}
    for name in ("a", "b"):
        pub = tmp_path / f"{name}.pub"
        keys[name] = ssh_public_key(f"key-{name}@kumo")
        pub.write_text(keys[name] + "\n")
        os_("keypair", "create", "--public-key", str(pub), f"sh-key-{name}")
    port_b = os_("port", "create", "--network", net["id"], "--fixed-ip",
                 f"subnet={subnet['id']},ip-address=10.20.0.50", "sh-port-b")
    user_data = tmp_path / "ud.sh"
    user_data.write_text("#!/bin/sh\n"
                         "echo KEY: $(cat /root/.ssh/authorized_keys)\n"
                         "(for i in $(seq 1 60); do\n"
                         "   if out=$(timeout 3 wget -q -O - http://10.20.0.50/); then\n"
                         "     echo PEER-OK $out; break; fi; sleep 1; done) &\n")
    t0 = time.monotonic()
    a = os_("server", "create", "--image", "kumo-tiny", "--flavor", "m1.nano",
            "--nic", f"net-id={net['id']}", "--key-name", "sh-key-a",
            "--user-data", str(user_data), "--wait", "sh-vm-a")
    b = os_("server", "create", "--image", "kumo-tiny", "--flavor", "m1.nano",
            "--nic", f"port-id={port_b['id']}", "--key-name", "sh-key-b", "--wait", "sh-vm-b")
    assert a["status"] == "ACTIVE" and b["status"] == "ACTIVE"
    addr_a = a["addresses"]["sh-net"][0]
    assert addr_a.startswith("10.20.0.") and b["addresses"] == {"sh-net": ["10.20.0.50"]}

    log_b = wait_for("vm b booted with its DHCP address",
                     lambda: BOOT_MARKER in (out := console(ns_cloud, b["id"])) and out,
                     timeout=180)
    assert f"{BOOT_MARKER} sh-vm-b 10.20.0.50" in log_b  # hostname from metadata, IP by DHCP
    log_a = wait_for("vm a fetched vm b's page",
                     lambda: "PEER-OK" in (out := console(ns_cloud, a["id"])) and out,
                     timeout=180)
    print(f"two VMs up and talking {time.monotonic() - t0:.1f}s after the first create")
    assert f"{BOOT_MARKER} sh-vm-a {addr_a}" in log_a
    assert "PEER-OK kumo-tiny sh-vm-b" in log_a
    assert f"KEY: {keys['a']}" in log_a and keys["b"] not in log_a  # its own key only

    ports = os_("port", "list", "--server", a["id"], "--long")
    assert len(ports) == 1 and ports[0]["Status"] == "ACTIVE"
    dhcp = os_("port", "list", "--device-owner", "network:dhcp", "--network", net["id"])
    assert len(dhcp) == 1 and dhcp[0]["Status"] == "ACTIVE"

    # Hot-plug a second NIC into the running VM, then unplug it.
    net2 = os_("network", "create", "sh-net2")
    os_("subnet", "create", "--network", net2["id"], "--subnet-range", "10.21.0.0/24",
        "sh-sub2")
    os_("server", "add", "network", a["id"], net2["id"], json_out=False)
    shown = wait_for("second address", lambda: len((s := os_(
        "server", "show", a["id"]))["addresses"]) == 2 and s, timeout=60)
    assert shown["addresses"]["sh-net2"][0].startswith("10.21.0.")
    events = os_("server", "event", "list", a["id"])
    assert events  # the attach is an instance action
    extra = [p for p in os_("port", "list", "--server", a["id"], "--long")
             if p["Fixed IP Addresses"] and "10.21.0." in str(p["Fixed IP Addresses"])]
    assert extra and wait_for("hot-plugged port active", lambda: os_(
        "port", "show", extra[0]["ID"])["status"] == "ACTIVE", timeout=60)
    os_("server", "remove", "network", a["id"], net2["id"], json_out=False)
    wait_for("second NIC gone", lambda: list(os_(
        "server", "show", a["id"])["addresses"]) == ["sh-net"], timeout=60)
    wait_for("auto-created port deleted", lambda: os_(
        "port", "show", extra[0]["ID"], check=False, json_out=False).returncode != 0,
        timeout=60)

    # Deleting the servers deletes the port made for a, and only unbinds b's own port.
    os_("server", "delete", "--wait", a["id"], b["id"], json_out=False)
    wait_for("a's port released", lambda: not os_("port", "list", "--network", net["id"],
                                                  "--device-owner", "compute:nova"), timeout=90)
    kept = os_("port", "show", port_b["id"])
    assert kept["device_id"] == "" and kept["status"] == "DOWN"
